#!/usr/bin/env bash
# Proves that lib.sh's `check` can fail: a false condition, a false second half of a compound
# condition (function and bash -c) and a missing condition must each print FAIL and count as a
# failure, a true one PASS; and no CLI script uses the pattern `check "..." [ ... ] && ...`,
# where only the first test reaches check (a lint over tests/cli/*.sh).
# Usage: tests/cli/check_selftest.sh [ignored]. Exits 0 only when check behaves.
set -u
here=$(dirname "$0")
problems=0
fine=0
bad() { echo "FAIL: $*"; problems=$((problems + 1)); }
good() { echo "PASS: $*"; fine=$((fine + 1)); }

# One check in a subshell with fresh counters: prints "passes failures status".
one() {
  (
    . "$here/lib.sh"
    check "$@" >/dev/null
    echo "$passes $failures $?"
  )
}
both_false() { [ 1 = 1 ] && [ 1 = 2 ]; }
expect() {  # expected "passes failures status", description of the case, check arguments...
  local want=$1 what=$2 got
  shift 2
  got=$(one "$@")
  if [ "$got" = "$want" ]; then good "check on $what: $got (passes failures status)"; else bad "check on $what: got '$got', expected '$want'"; fi
}
expect "0 1 1" "false" "a false condition" false
expect "0 1 1" "[ 1 = 2 ]" "a false test" [ 1 = 2 ]
expect "0 1 1" "a function whose second test is false" "compound" both_false
expect "0 1 1" "bash -c whose second test is false" "compound" bash -c '[ 1 = 1 ] && [ 1 = 2 ]'
expect "0 1 1" "no condition at all" "description only"
expect "1 0 0" "a true condition" "true" [ 2 -le 3 ]

# The lint: a line that calls check (joined with its continuation lines) must not have && or ||
# outside quotes: the second half would run outside check.
for f in "$here"/*.sh; do
  lines=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$f" | grep -nE '^[[:space:]]*check[[:space:]]' |
    sed -E "s/'[^']*'//g; s/\"([^\"\\\\]|\\\\.)*\"//g" | grep -E '&&|\|\|')
  if [ -z "$lines" ]; then
    good "$(basename "$f"): no check followed by && or ||"
  else
    bad "$(basename "$f"): check followed by && or || (use a function or bash -c): $lines"
  fi
done
echo "check_selftest: $fine passed, $problems failed"
[ "$problems" -eq 0 ]
