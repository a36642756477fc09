#!/bin/sh
# Demo of kr-patch (called by make demo with the bin directory as $1): runs
# it on the sample files and compares each output with the expected one.
# Exits non-zero on the first mismatch.
set -eu
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
s=$here/samples
kp=$bin/kr-patch
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

check() { # expected-file, then the kr-patch arguments
    want=$1
    shift
    echo "\$ kr-patch $*" | sed "s|$s/||g"
    "$kp" "$@" >"$tmp"
    cat "$tmp"
    if ! cmp -s "$tmp" "$s/$want"; then
        echo "demo: kr-patch $* differs from $want" >&2
        exit 1
    fi
}

check expected-apply-strategic.json apply "$s/pod.yaml" "$s/pod-patch.yaml"
check expected-apply-merge.json apply --type merge "$s/pod.yaml" "$s/pod-patch.yaml"
check expected-apply-json.json apply --type json "$s/pod.yaml" "$s/pod-ops.json"
check expected-apply-widget-merge.json apply "$s/widget.json" "$s/widget-patch.json"
check expected-apply-widget.json apply --schema "$s/widget-schema.json" \
    --kind example.com/v1/Widget "$s/widget.json" "$s/widget-patch.json"
check expected-diff-merge.json diff --type merge "$s/deploy-last.yaml" "$s/deploy-modified.yaml"
check expected-three-way-strategic.json three-way "$s/deploy-last.yaml" \
    "$s/deploy-modified.yaml" "$s/deploy-current.yaml"
check expected-three-way-merge.json three-way --type merge "$s/deploy-last.yaml" \
    "$s/deploy-modified.yaml" "$s/deploy-current.yaml"

# A failing JSON patch test: exit 1 and one line on stderr.
set +e
echo '[{"op":"test","path":"/metadata/name","value":"other"}]' |
    "$kp" apply --type json "$s/pod.yaml" - >/dev/null 2>"$tmp"
rc=$?
set -e
echo "\$ kr-patch apply --type json pod.yaml - (a failing test) -> exit $rc: $(cat "$tmp")"
if [ $rc -ne 1 ] || [ "$(wc -l <"$tmp")" -ne 1 ]; then
    echo "demo: a failing patch must exit 1 with one line on stderr" >&2
    exit 1
fi
echo "kr-patch demo: all outputs as expected"
