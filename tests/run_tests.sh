#!/usr/bin/env bash
# Runs every test program of the suite and prints one closing line: "N passed, N failed".
# Usage: tests/run_tests.sh BUILD_DIR   (run from the repository root)
set -u
build=${1:-build}
passed=0; failed=0; failed_names=()
log=$(mktemp -d)

count_boost() {  # adds the test-case counts of one Boost.Test report
  local out=$1 p f
  p=$(grep -oE '[0-9]+ test cases? out of [0-9]+ passed' "$out" | head -1 | awk '{print $1}')
  f=$(grep -oE '[0-9]+ test cases? out of [0-9]+ failed' "$out" | head -1 | awk '{print $1}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

run() {  # name, command...
  local name=$1; shift
  local out="$log/${name//\//_}.log"
  echo "=== $name"
  if "$@" >"$out" 2>&1; then rc=0; else rc=$?; fi
  cat "$out"
  if grep -qE 'test cases? out of' "$out"; then
    count_boost "$out"
    if [ $rc -ne 0 ]; then
      grep -qE 'test cases? out of [0-9]+ failed' "$out" || failed=$((failed + 1))
      failed_names+=("$name (exit $rc)")
    fi
  elif [ $rc -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failed_names+=("$name (exit $rc)")
  fi
}

for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" "$t" --report_level=short --log_level=test_suite --color_output=false
done
# The malformed-cfg corpus again under AddressSanitizer + UndefinedBehaviorSanitizer.
if [ -x build/san/tests/test_cfg ]; then
  run "test_cfg[asan,ubsan]" env ASAN_OPTIONS=detect_leaks=1 build/san/tests/test_cfg --report_level=short --log_level=test_suite --color_output=false
fi
for s in tests/cli/*.sh; do
  [ -f "$s" ] || continue
  run "cli/$(basename "$s" .sh)" bash "$s" "$build/rpgnet"
done

rm -rf "$log"
if [ ${#failed_names[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ]
