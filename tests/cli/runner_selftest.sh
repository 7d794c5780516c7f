#!/usr/bin/env bash
# Proves that tests/run_tests.sh counts what it claims: fake programs that pass, fail, exit 0
# without their framework's summary, crash after a passing report, hang, or skip, each run
# through its `run` function and the counters compared with what they must be.
# Usage: tests/cli/runner_selftest.sh [ignored]
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
RUN_TESTS_FUNCTIONS_ONLY=1 limit=2
. "$here/tests/run_tests.sh"
limit=2
. "$here/tests/cli/lib.sh"
fake=$(mktemp -d)
trap 'rm -rf "$fake" "$log"' EXIT
prog() {  # name, body: an executable script
  printf '#!/usr/bin/env bash\n%s\n' "$2" >"$fake/$1"
  chmod +x "$fake/$1"
}
prog boost_ok 'echo "Test module \"x\" has passed with:"; echo "  3 test cases out of 3 passed"'
prog boost_fail 'echo "  2 test cases out of 3 passed"; echo "  1 test case out of 3 failed"; exit 201'
prog boost_skip 'echo "  1 test case out of 2 passed"; echo "  1 test case out of 2 skipped"'
prog boost_crash 'echo "  3 test cases out of 3 passed"; exit 134'
prog silent 'exit 0'
prog hang 'sleep 30'
prog script_ok 'echo "PASS: a"; echo "thing: 1 passed, 0 failed"'
prog script_fail 'echo "thing: 1 passed, 1 failed"; exit 1'
prog script_skip 'echo "SKIPPED: no data"'
prog checks_ok 'echo "t: 5 checks passed, 0 failed"'
# expected "passed failed skipped" after one run, kind, program
expect() {
  local want=$1 kind=$2 p=$3 got
  passed=0; failed=0; skipped=0; failed_names=(); skip_notes=()
  run "$kind" "$p" "$fake/$p" >/dev/null 2>&1
  got="$passed $failed $skipped"
  check "$kind program '$p' counts as '$want' (passed failed skipped; got '$got')" [ "$got" = "$want" ]
}
expect "3 0 0" boost boost_ok
expect "2 1 0" boost boost_fail
expect "1 0 1" boost boost_skip
expect "3 1 0" boost boost_crash
expect "0 1 0" boost silent
expect "0 1 0" boost hang
expect "0 1 0" script silent
expect "1 0 0" script script_ok
expect "0 1 0" script script_fail
expect "0 0 1" script script_skip
expect "1 0 0" checks checks_ok
expect "0 1 0" checks silent
passed=0; failed=0; failed_names=()
run boost hang "$fake/hang" >/dev/null 2>&1
check "a hang is named as timed out" bash -c '[[ "$1" == *"hang (timed out after 2 s)"* ]]' _ "${failed_names[*]}"
echo "runner_selftest: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
