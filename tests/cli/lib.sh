# Shared by the CLI test scripts (sourced): PASS/FAIL lines and their counts.
#   check DESCRIPTION COMMAND [ARGS...]
# runs the whole condition COMMAND ARGS... and prints PASS or FAIL. A condition of several tests
# is one command: a function, or `bash -c '...'`; never `check "..." [ a ] && [ b ]`, where only
# the first test would reach check (tests/cli/check_selftest.sh rejects such lines).
passes=0
failures=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() {
  local what=$1
  if [ $# -lt 2 ]; then
    fail "$what (check was given no condition)"
    return 1
  fi
  shift
  if "$@"; then pass "$what"; else fail "$what"; return 1; fi
}
