#!/usr/bin/env bash
# Runs every test program of the suite and prints one closing line: "N passed, N failed".
# Usage: tests/run_tests.sh BUILD_DIR   (run from the repository root)
set -u
build=${1:-build}
passed=0; failed=0; skipped=0; failed_names=()
log=$(mktemp -d)

count_boost() {  # adds the test-case counts of one Boost.Test report
  local out=$1 p f k
  p=$(grep -oE '[0-9]+ test cases? out of [0-9]+ passed' "$out" | head -1 | awk '{print $1}')
  f=$(grep -oE '[0-9]+ test cases? out of [0-9]+ failed' "$out" | head -1 | awk '{print $1}')
  k=$(grep -oE '[0-9]+ test cases? out of [0-9]+ skipped' "$out" | head -1 | awk '{print $1}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${k:-0}))
}

count_bindings() {  # adds the counts of a bindings runner (JUnit 4, go test -v, the C# runner)
  local name=$1 out=$2 p f
  case $name in
    bindings/java*)
      if grep -qE '^OK \([0-9]+ tests?\)' "$out"; then
        p=$(grep -oE '^OK \([0-9]+' "$out" | tail -1 | grep -oE '[0-9]+'); f=0
      elif grep -qE '^Tests run: [0-9]+, +Failures: [0-9]+' "$out"; then
        read -r p f < <(grep -oE '^Tests run: [0-9]+, +Failures: [0-9]+' "$out" | tail -1 | grep -oE '[0-9]+' | tr '\n' ' ')
        p=$((p - f))
      else return 1; fi ;;
    bindings/go*)
      p=$(grep -cE '^--- PASS' "$out"); f=$(grep -cE '^--- FAIL' "$out")
      [ $((p + f)) -gt 0 ] || return 1 ;;
    bindings/csharp*)
      grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$out" || return 1
      read -r p f < <(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1 | grep -oE '[0-9]+' | tr '\n' ' ') ;;
    *) return 1 ;;
  esac
  # -Xcheck:jni warnings (a JNI call in a critical region, an unreleased array) are failures.
  if [[ $name == bindings/java* ]] && grep -qE 'WARNING in native method|Warning: Calling other JNI functions' "$out"; then
    f=$((f + 1))
  fi
  passed=$((passed + p)); failed=$((failed + f))
  # A runner that fails without a failed test (a crash, a build error) counts as one failure.
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
  return 0
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
  elif count_bindings "$name" "$out"; then
    [ $rc -ne 0 ] && failed_names+=("$name (exit $rc)")
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
# The CUDA suite of the GPU build (make check-gpu-build); without a device its GPU tests are
# reported as skipped, with the reason.
if [ -x build/gpu/tests/test_cuda ] && [ "$build" != build/gpu ]; then
  run "test_cuda[gpu build]" build/gpu/tests/test_cuda --report_level=short --log_level=test_suite --color_output=false
fi
# The malformed-cfg corpus again under AddressSanitizer + UndefinedBehaviorSanitizer.
if [ -x build/san/tests/test_cfg ]; then
  run "test_cfg[asan,ubsan]" env ASAN_OPTIONS=detect_leaks=1 build/san/tests/test_cfg --report_level=short --log_level=test_suite --color_output=false
fi
for s in tests/cli/*.sh; do
  [ -f "$s" ] || continue
  run "cli/$(basename "$s" .sh)" bash "$s" "$build/rpgnet"
done
# The C API: its C tests and examples (make capi), the same tests under ASan/UBSan with
# LeakSanitizer (build/san/capi), and the scripts of tests/capi (exported symbols, header).
for t in "$build"/capi/*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  run "capi/$(basename "$t")" "$t"
done
if [ "$build" != build/san ]; then
  for t in build/san/capi/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    run "capi/$(basename "$t")[asan,ubsan]" env ASAN_OPTIONS=detect_leaks=1 "$t"
  done
fi
for s in tests/capi/*.sh; do
  [ -f "$s" ] || continue
  run "capi/$(basename "$s" .sh)" bash "$s" "$build"
done
# The Java, Go and C# bindings (make bindings), from the repository root: JUnit 4 under
# -Xcheck:jni, go test -race, the C# runner under mono. The create/free-cycles tests (VmRSS
# flat over 100,000 cycles) run apart: Java's in a JVM of its own whose heap is fixed and
# pre-touched (resident from the start, so the heap's growth does not move RSS), Go's again
# without -race (under -race it skips: the detector's shadow memory grows with allocations).
if [ -f "$build/bindings/java/rpgnet.jar" ]; then
  java_cp="$build/bindings/java/rpgnet.jar:$build/bindings/java/test-classes:/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar"
  run bindings/java java -Xcheck:jni -Drpgnet.jni="$PWD/$build/bindings/java/librpgnet_jni.so" \
    -cp "$java_cp" org.junit.runner.JUnitCore org.rpgnet.RpgNetTest
  run "bindings/java[memory]" java -Xcheck:jni -Xms64m -Xmx64m -XX:+AlwaysPreTouch \
    -Drpgnet.jni="$PWD/$build/bindings/java/librpgnet_jni.so" \
    -cp "$java_cp" org.junit.runner.JUnitCore org.rpgnet.CreateFreeCyclesTest
  run "bindings/java[callbacks]" java -Xcheck:jni -Drpgnet.jni="$PWD/$build/bindings/java/librpgnet_jni.so" \
    -cp "$java_cp" org.junit.runner.JUnitCore org.rpgnet.CallbackTest
fi
if [ -f "$build/bindings/go/built" ]; then
  go_env="PKG_CONFIG_PATH='$PWD/$build/install/lib/pkgconfig' CGO_LDFLAGS='-Wl,-rpath,$PWD/$build/install/lib'"
  run bindings/go bash -c "cd bindings/go && $go_env go test -race -count=1 -v ./..."
  run "bindings/go[norace]" bash -c "cd bindings/go && $go_env go test -count=1 -run TestCreateFreeCycles -v ."
fi
if [ -f "$build/bindings/csharp/RpgNetTests.exe" ]; then
  run bindings/csharp env LD_LIBRARY_PATH="$PWD/$build/bindings/csharp" mono "$build/bindings/csharp/RpgNetTests.exe"
  run "bindings/csharp[callbacks]" env LD_LIBRARY_PATH="$PWD/$build/bindings/csharp" mono "$build/bindings/csharp/CallbackTests.exe"
fi
# Each binding from a project of its own outside the tree, built against `make install
# PREFIX=<temporary>` as README.md shows it (tests/bindings/sample.sh; the default build only).
if [ "$build" = build ] && [ -f build/bindings/java/rpgnet.jar ] && [ -f build/bindings/go/built ] &&
   [ -f build/bindings/csharp/RpgNetTests.exe ]; then
  for lang in java go csharp; do run "samples/$lang" bash tests/bindings/sample.sh "$lang"; done
fi

rm -rf "$log"
if [ ${#failed_names[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed_names[*]}"
fi
[ "$skipped" -gt 0 ] && echo "$skipped test cases skipped (the reasons are in the logs above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ]
