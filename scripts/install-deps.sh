#!/bin/sh
# Installs the Debian packages libkreconcile needs to build and test, when
# they are missing. Idempotent: a second run installs nothing and is quick.
# It never installs anything outside Debian's package manager.
set -eu

PKGS="build-essential pkg-config
libcurl4-openssl-dev libjansson-dev libuv1-dev libssl-dev libyaml-dev
libmicrohttpd-dev libgnutls28-dev check
valgrind clang libclang-rt-14-dev cppcheck clang-tidy clang-format
openssl curl nghttp2-proxy
postgresql libpq-dev libsqlite3-dev sqlite3 chromium"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: this is not a Debian system; install the equivalents of:$missing" >&2
    exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-deps: missing packages; run as root:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
else
    SUDO=""
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
