#!/bin/sh
# Installs into a temporary DESTDIR with PREFIX=/usr, then builds and runs a
# small program against the installed copy only, found through pkg-config.
set -u
results=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok=1
make --no-print-directory install DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; ok=0; }
if [ $ok -eq 1 ]; then
    export PKG_CONFIG_PATH="$tmp/root/usr/lib/pkgconfig"
    export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
    flags=$(pkg-config --cflags --libs libkreconcile) || ok=0
    # shellcheck disable=SC2086
    [ $ok -eq 1 ] && cc -std=c11 -Wall -Werror -o "$tmp/hello" test/install/hello.c $flags || ok=0
    if [ $ok -eq 1 ]; then
        LD_LIBRARY_PATH="$tmp/root/usr/lib" "$tmp/hello" || ok=0
        # The program must have loaded the installed library, not the tree's.
        LD_LIBRARY_PATH="$tmp/root/usr/lib" ldd "$tmp/hello" | grep -q "$tmp/root/usr/lib/libkreconcile.so.0" || {
            echo "install-test: hello did not link the installed libkreconcile.so.0"; ok=0; }
        # Only kr_ symbols may be exported.
        nm -D --defined-only "$tmp/root/usr/lib/libkreconcile.so.0" | awk '{print $3}' | sort -u >"$tmp/exports"
        bad=$(grep -v '^kr_' "$tmp/exports" || true)
        [ -n "$bad" ] && { echo "install-test: non-kr_ exports: $bad"; ok=0; }
        # The static archives define no global outside their public API.
        for a in libkreconcile.a libkreconcile-testserver.a; do
            bad=$(nm "$tmp/root/usr/lib/$a" | awk '$2 ~ /^[A-TV-Z]$/ {print $3}' | grep -v '^kr_' || true)
            [ -n "$bad" ] && { echo "install-test: $a defines non-kr_ globals: $bad"; ok=0; }
            bad=$(nm "$tmp/root/usr/lib/$a" | awk '$2 ~ /^[A-TV-Z]$/ {print $3}' |
                grep '^kr_' | grep -v '^kr_testserver_' | sort -u |
                comm -23 - "$tmp/exports" || true)
            [ "$a" = libkreconcile.a ] && [ -n "$bad" ] &&
                { echo "install-test: $a defines unexported kr_ globals: $bad"; ok=0; }
            [ "$a" = libkreconcile-testserver.a ] && [ -n "$bad" ] &&
                { echo "install-test: $a defines library globals: $bad"; ok=0; }
        done
        # A test-server program against the installed shared library, through pkg-config only.
        tsflags=$(pkg-config --cflags --libs libkreconcile-testserver) || ok=0
        # shellcheck disable=SC2086
        if [ $ok -eq 1 ] && cc -std=c11 -Wall -Werror -o "$tmp/tsprog" test/install/testserver.c \
            $tsflags >"$tmp/ts-build.log" 2>&1; then
            LD_LIBRARY_PATH="$tmp/root/usr/lib" "$tmp/tsprog" || { echo "install-test: tsprog failed"; ok=0; }
            LD_LIBRARY_PATH="$tmp/root/usr/lib" ldd "$tmp/tsprog" | grep -q "$tmp/root/usr/lib/libkreconcile.so.0" || {
                echo "install-test: tsprog did not link the installed libkreconcile.so.0"; ok=0; }
        else
            cat "$tmp/ts-build.log"; echo "install-test: the test-server program does not build"; ok=0
        fi
    fi
fi
# A second install with another prefix names its own directories (the .pc
# files are not left over from the first), relative to ${prefix}.
if [ $ok -eq 1 ]; then
    make --no-print-directory install DESTDIR="$tmp/root2" PREFIX=/opt/kr >"$tmp/install2.log" 2>&1 ||
        { cat "$tmp/install2.log"; ok=0; }
    for pc in libkreconcile libkreconcile-testserver; do
        got=$(PKG_CONFIG_SYSROOT_DIR="$tmp/root2" PKG_CONFIG_PATH="$tmp/root2/opt/kr/lib/pkgconfig" \
            pkg-config --cflags-only-I --libs-only-L "$pc" |
            tr ' ' '\n' | grep -e "^-I$tmp/root2/opt/kr/include\$" -e "^-L$tmp/root2/opt/kr/lib\$" | wc -l)
        # moved elsewhere, --define-variable=prefix relocates it
        moved=$(PKG_CONFIG_SYSROOT_DIR= PKG_CONFIG_PATH="$tmp/root2/opt/kr/lib/pkgconfig" \
            pkg-config --define-variable=prefix=/srv/kr --cflags-only-I --libs-only-L "$pc" |
            tr ' ' '\n' | grep -e "^-I/srv/kr/include\$" -e "^-L/srv/kr/lib\$" | wc -l)
        [ "$got" -eq 2 ] && [ "$moved" -eq 2 ] || { echo "install-test: $pc.pc of PREFIX=/opt/kr does not name its directories:"
            cat "$tmp/root2/opt/kr/lib/pkgconfig/$pc.pc"; ok=0; }
    done
fi
if [ $ok -eq 1 ]; then echo "install-test: ok"; echo "install 1 0" >>"$results"
else echo "install-test: FAILED"; echo "install 0 1" >>"$results"; exit 1; fi
