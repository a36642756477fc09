#!/bin/sh
# Runs test binaries from BUILD/test, prints their output, and appends one
# line per binary to RESULTS: "<name> <passed> <failed> <skipped>". Check
# suites are counted by their "Checks: N, Failures: F, Errors: E" line, less
# the checks that said "KR-SKIP: ..." (kr_test_skip: they did not run what
# they test); fuzz corpus replays count one check per file. KR_TEST_WRAPPER
# (e.g. valgrind) prefixes every command. KR_TEST_JOBS=N runs N binaries at
# a time (each starts its own servers on free ports in its own directories),
# the longest first; each one's summary is printed when it ends. Exit
# status: 0 when everything passed.
set -u
: "${CK_DEFAULT_TIMEOUT:=300}"
export CK_DEFAULT_TIMEOUT

# One binary: runs it, prints its summary (its log's tail when it failed),
# appends its line to $results; returns non-zero when it failed.
run_one() {
    bin="$build/test/$t"
    sk=0
    log="$build/test/$t.log"
    case "$t" in
    fuzz_*)
        name=${t#fuzz_}
        dir="test/fuzz/corpus/$name"
        # shellcheck disable=SC2086
        ${KR_TEST_WRAPPER:-} "$bin" "$dir" >"$log" 2>&1
        rc=$?
        n=$(find "$dir" -type f 2>/dev/null | wc -l)
        if [ $rc -eq 0 ]; then p=$n; f=0; else p=0; f=1; fi
        echo "$t: replayed $n corpus inputs: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
        ;;
    *)
        # shellcheck disable=SC2086
        ${KR_TEST_WRAPPER:-} "$bin" >"$log" 2>&1
        rc=$?
        # A binary may run several suites (one per store representation,
        # say): every summary line counts.
        line=$(grep -E '[0-9]+%: Checks: [0-9]+' "$log" |
            sed -E 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/' |
            awk '{ c += $1; f += $2; e += $3; n++ }
                 END { if (n) printf "%d%%: Checks: %d, Failures: %d, Errors: %d", c ? 100 * (c - f - e) / c : 0, c, f, e }')
        if [ -n "$line" ]; then
            checks=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
            fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
            errs=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
            f=$((fails + errs)); p=$((checks - f))
            sk=$(grep -c '^KR-SKIP: ' "$log")
            [ "$sk" -gt "$p" ] && sk=$p
            p=$((p - sk))
            [ $rc -ne 0 ] && [ $f -eq 0 ] && f=1
        else
            p=0; f=1
        fi
        echo "$t: ${line:-no Check summary (exit $rc)}$([ "$sk" -gt 0 ] && echo ", $sk skipped")"
        grep '^KR-SKIP: ' "$log" | sed 's/^/    /'
        ;;
    esac
    status=0
    if [ $rc -ne 0 ] || [ $f -ne 0 ]; then
        status=1
        echo "---- $t output (last 60 lines of $log) ----"
        tail -n 60 "$log"
        echo "----"
        # The failed checks' own lines, for the summary at the very end.
        { grep -E '^[^ :]+:[0-9]+:[FE]:|Sanitizer|Test timeout expired|Received signal' "$log" |
            head -n 8 | cut -c 1-400 | sed "s|^|$t: |"; } >>"${results%.txt}.why"
    fi
    echo "$t $p $f $sk" >>"$results"
    return $status
}

# The per-binary mode of the parallel runner below.
if [ "${1:-}" = --one ]; then
    build=$2; results=$3; t=$4
    # Printed in one piece, so that parallel runs do not interleave.
    out=$(run_one)
    status=$?
    printf '%s\n' "$out"
    exit $status
fi

build=$1; results=$2; shift 2
mkdir -p "$(dirname "$results")"
jobs=${KR_TEST_JOBS:-1}
if [ "$jobs" -gt 1 ] 2>/dev/null; then
    # The longest suites first, so that the last one to start is short.
    slow="test_system test_submitter test_kr_inventory test_patch_kubectl test_kr_syncer
          test_inventory_sync test_testserver_kubectl test_testserver test_util"
    first=""; rest=""
    for s in $slow; do
        for t in "$@"; do [ "$t" = "$s" ] && first="$first $t"; done
    done
    for t in "$@"; do
        case " $first " in *" $t "*) ;; *) [ "$t" = none ] || rest="$rest $t" ;; esac
    done
    # shellcheck disable=SC2086
    printf '%s\n' $first $rest | xargs -r -P "$jobs" -n 1 sh "$0" --one "$build" "$results"
    exit $?
fi
status=0
for t in "$@"; do
    [ "$t" = none ] && continue
    run_one || status=1
done
exit $status
