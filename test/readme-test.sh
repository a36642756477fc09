#!/bin/sh
# The README's API tour compiles: every ```c block of README.md is built
# against the public headers, inside a function of its own after
# test/readme/prelude.h (the variables a program around it would have);
# a block that defines main() is built as a file of its own. Lines that are
# only "..." stand for elided code and are dropped. Appends
# "readme <passed> <failed>" to RESULTS (the first argument).
set -u
results=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CC=${CC:-cc}
flags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-variable -Wno-unused-function
 -Wno-unused-but-set-variable -Wno-unused-parameter -Iinclude -Itest/readme
 $(pkg-config --cflags jansson 2>/dev/null)"
# A definition at column 0 ("static ... name(...)" up to a "}" line) goes
# to the file's top level (blockN-top.c); the statements into the body.
awk -v dir="$tmp" '
    /^```c[ ]*$/ { n++; f = dir "/block" n ".c"; t = dir "/block" n "-top.c"; inside = 1; next }
    /^```/ { inside = 0; top = 0; next }
    !inside || $0 ~ /^[ ]*\.\.\.[ ]*$/ { next }
    /^static [^=]*\(/ { top = 1 }
    top { print > t; if ($0 == "}") top = 0; next }
    { print > f }
' README.md
passed=0
failed=0
for f in "$tmp"/block*.c; do
    case "$f" in *-top.c) continue ;; esac
    [ -f "$f" ] || continue
    n=$(basename "$f" .c)
    top="$tmp/$n-top.c"
    [ -f "$top" ] || : >"$top"
    if grep -q 'int main(' "$f"; then
        { echo '#include "prelude.h"'; cat "$top" "$f"; } >"$tmp/$n-unit.c"
    else
        { echo '#include "prelude.h"'; cat "$top"; echo "void $n(void);"; echo "void $n(void)";
          echo '{'; cat "$f"; echo '}'; } >"$tmp/$n-unit.c"
    fi
    # shellcheck disable=SC2086
    if $CC $flags -c "$tmp/$n-unit.c" -o "$tmp/$n.o" 2>"$tmp/$n.err"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "readme-test: README snippet $n does not compile:"
        sed 's/^/    /' "$f"
        sed 's/^/  | /' "$tmp/$n.err" | head -20
    fi
done
echo "readme-test: $passed snippets compile, $failed do not"
echo "readme $passed $failed" >>"$results"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
