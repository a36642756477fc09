#!/bin/sh
# Adds up the "<name> <passed> <failed>" lines of every results file given
# and prints the total as the closing line: "N passed, N failed".
set -u
cat "$@" 2>/dev/null | awk '
    { p += $2; f += $3; if ($3 > 0) bad = bad " " $1 }
    END {
        if (bad != "") print "failing:" bad
        printf "%d passed, %d failed\n", p, f
        exit (f > 0 || p == 0) ? 1 : 0
    }'
