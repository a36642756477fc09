#!/bin/sh
# Adds up the "<name> <passed> <failed> [<skipped>]" lines of every results
# file given and prints the total as the closing line:
# "N passed, N failed, N skipped".
set -u
# What each failed suite said (run-tests.sh keeps its failed checks' lines in
# a .why file beside its results), so that the end of the output names them.
for f in "$@"; do
    w="${f%.txt}.why"
    [ -s "$w" ] && { echo "== why ($(basename "$f" .txt)) =="; cat "$w"; }
done
cat "$@" 2>/dev/null | awk '
    { p += $2; f += $3; s += $4; if ($3 > 0) bad = bad " " $1; if ($4 > 0) skipped = skipped " " $1 }
    END {
        if (bad != "") print "failing:" bad
        if (skipped != "") print "with skips:" skipped
        printf "%d passed, %d failed, %d skipped\n", p, f, s
        exit (f > 0 || p == 0) ? 1 : 0
    }'
