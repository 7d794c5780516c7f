#!/usr/bin/env bash
# Runs every test program of the suite and prints one closing line: "N passed, N failed".
# Usage: tests/run_tests.sh BUILD_DIR   (run from the repository root)
#
# What counts: test cases, as each framework names them: a Boost.Test case, a JUnit test method,
# a Go test function, a C# runner test; a C API test program (check.h) and a CLI script are one
# case each; a capi example is one case (its exit status). Every program must end with its
# framework's summary: one that exits 0 without it (it died early, or never ran its tests) is a
# failure. Every program runs under a time limit (RPG_TEST_TIMEOUT seconds, default 600): a
# hang is a failure naming the program. Skipped cases are counted and listed with their reasons.
set -u
build=${1:-build}
limit=${RPG_TEST_TIMEOUT:-600}
passed=0; failed=0; skipped=0; failed_names=(); skip_notes=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

boost_count() {  # out, passed|failed|skipped: the count of a Boost.Test short report, or empty
  grep -oE "[0-9]+ test cases? out of [0-9]+ $2" "$1" | head -1 | awk '{print $1}'
}

# Each counter adds what one program reported and returns 1 when its summary is missing.
count_boost() {  # name out rc
  local name=$1 out=$2 rc=$3 p f k
  grep -qE 'test cases? out of [0-9]+' "$out" || return 1
  p=$(boost_count "$out" passed); f=$(boost_count "$out" failed); k=$(boost_count "$out" skipped)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${k:-0}))
  if [ "${k:-0}" -gt 0 ]; then
    skip_notes+=("$name: ${k} skipped, e.g. $(grep -oE 'skipped because.*' "$out" | head -1)")
  fi
  # A crash after the report, or a failure the report does not count, is one more failure.
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  return 0
}

count_one() {  # name rc failures-reported: one test case
  if [ "$2" -eq 0 ] && [ "$3" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

count_checks() {  # a C API test program: "NAME: N checks passed, N failed"
  local line
  line=$(grep -E '^[A-Za-z_]+: [0-9]+ checks passed, [0-9]+ failed$' "$2" | tail -1)
  [ -n "$line" ] || return 1
  count_one "$1" "$3" "$(awk '{print $(NF-1)}' <<<"$line")"
}

count_script() {  # a CLI or capi script: "NAME: N passed, N failed", or "SKIPPED: reason"
  local line
  if grep -qE '^SKIPPED: ' "$2" && [ "$3" -eq 0 ]; then
    skipped=$((skipped + 1)); skip_notes+=("$1: $(grep -E '^SKIPPED: ' "$2" | head -1)")
    return 0
  fi
  line=$(grep -E '^[A-Za-z_]+: [0-9]+ passed, [0-9]+ failed$' "$2" | tail -1)
  [ -n "$line" ] || return 1
  count_one "$1" "$3" "$(awk '{print $(NF-1)}' <<<"$line")"
}

count_program() {  # a capi example: its exit status
  count_one "$1" "$3" 0
}

count_bindings() {  # JUnit 4, go test -v, the C# runner
  local name=$1 out=$2 rc=$3 p f
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
      k=$(grep -cE '^--- SKIP' "$out")
      [ $((p + f + k)) -gt 0 ] || return 1
      skipped=$((skipped + k))
      [ "$k" -gt 0 ] && skip_notes+=("$name: $k skipped, e.g. $(grep -B1 -E '^--- SKIP' "$out" | grep -E '^ +[a-z_]+\.go:[0-9]+: ' | head -1 | sed 's/^ *//')") ;;
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
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
  return 0
}

run() {  # kind (boost, checks, script, program, bindings), name, command...
  local kind=$1 name=$2 out rc start
  shift 2
  out="$log/${name//[\/\[\]]/_}.log"
  echo "=== $name"
  start=$SECONDS
  timeout -k 10 "$limit" "$@" >"$out" 2>&1
  rc=$?
  cat "$out"
  echo "--- $name: exit $rc, $((SECONDS - start)) s"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    failed=$((failed + 1)); failed_names+=("$name (timed out after $limit s)")
    return
  fi
  if ! "count_$kind" "$name" "$out" "$rc"; then
    failed=$((failed + 1)); failed_names+=("$name (exit $rc without its test summary)")
    return
  fi
  [ $rc -ne 0 ] && failed_names+=("$name (exit $rc)")
}

# tests/cli/runner_selftest.sh sources this file for its functions only.
[ -n "${RUN_TESTS_FUNCTIONS_ONLY:-}" ] && return 0

boost_args=(--report_level=short --log_level=test_suite --color_output=false)
san_env=(env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)

for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  run boost "$(basename "$t")" "$t" "${boost_args[@]}"
done
# The int8 engine again on oneDNN's AVX2 kernels (no VNNI: s8 activations, halved weight codes),
# whatever this processor has beyond AVX2.
if [ -x "$build/tests/test_int8" ]; then
  run boost "test_int8[avx2]" env DNNL_MAX_CPU_ISA=AVX2 "$build/tests/test_int8" "${boost_args[@]}"
fi
# The CUDA suite of the GPU build (make check-gpu-build); without a device its GPU tests are
# reported as skipped, with the reason.
if [ -x build/gpu/tests/test_cuda ] && [ "$build" != build/gpu ]; then
  run boost "test_cuda[gpu build]" build/gpu/tests/test_cuda "${boost_args[@]}"
fi
# The same CUDA suite on emulated CUDA under ASan (tests/gpu/emulate): the kernels' index
# arithmetic, bounds and cuBLAS conventions without a device.
if [ "$build" = build ] && [ -z "${RPG_SKIP_EMULATOR:-}" ]; then
  run boost "test_cuda[emulated]" bash tests/gpu/emulate/run.sh
fi
# Unit tests (test_cfg's malformed-cfg corpus, and the loaders, layers, rings and training)
# again under AddressSanitizer + UndefinedBehaviorSanitizer with LeakSanitizer (make test builds
# them: SAN_TESTS in the Makefile).
if [ "$build" != build/san ]; then
  for t in build/san/tests/test_*; do
    [ -x "$t" ] || continue
    run boost "$(basename "$t")[asan,ubsan]" "${san_env[@]}" "$t" "${boost_args[@]}"
  done
fi
# ThreadSanitizer: the background loader and two networks training on two threads.
for t in build/tsan/tests/test_*; do
  [ -x "$t" ] || continue
  run boost "$(basename "$t")[tsan]" env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 "$t" "${boost_args[@]}"
done
for s in tests/cli/*.sh; do
  [ -f "$s" ] && [ "$s" != tests/cli/lib.sh ] || continue
  run script "cli/$(basename "$s" .sh)" bash "$s" "$build/rpgnet"
  case $s in */check_selftest.sh | */runner_selftest.sh | */clang_syntax.sh) continue ;; esac  # no binary to sanitize
  if [ -x build/san/rpgnet ] && [ "$build" != build/san ]; then
    run script "cli/$(basename "$s" .sh)[asan,ubsan]" "${san_env[@]}" bash "$s" build/san/rpgnet
  fi
done
# Data-parallel training under mpirun -np 2 (tests/mpi/mpi.sh: equivalence with one process,
# identical ranks, resume, signals, dead and stopped ranks; skipped where MPI is not installed).
for s in tests/mpi/*.sh; do
  [ -f "$s" ] && run script "mpi/$(basename "$s" .sh)" bash "$s" "$build/rpgnet"
done
# The C API: its C tests and examples (make capi), the same tests under ASan/UBSan with
# LeakSanitizer (build/san/capi), and the scripts of tests/capi (exported symbols, header).
for t in "$build"/capi/*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  case $(basename "$t") in example_*) kind=program ;; *) kind=checks ;; esac
  run "$kind" "capi/$(basename "$t")" "$t"
done
if [ "$build" != build/san ]; then
  for t in build/san/capi/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    run checks "capi/$(basename "$t")[asan,ubsan]" "${san_env[@]}" "$t"
  done
fi
for s in tests/capi/*.sh; do
  [ -f "$s" ] || continue
  run script "capi/$(basename "$s" .sh)" bash "$s" "$build"
done
# The Java, Go and C# bindings (make bindings), from the repository root: JUnit 4 under
# -Xcheck:jni, go test -race, the C# runner under mono. The create/free-cycles tests (VmRSS
# flat over the cycles) run apart: Java's in a JVM of its own whose heap is fixed and
# pre-touched (resident from the start, so the heap's growth does not move RSS), Go's again
# without -race (under -race it skips: the detector's shadow memory grows with allocations).
if [ -f "$build/bindings/java/rpgnet.jar" ]; then
  java_cp="$build/bindings/java/rpgnet.jar:$build/bindings/java/test-classes:/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar"
  run bindings bindings/java java -Xcheck:jni -Drpgnet.jni="$PWD/$build/bindings/java/librpgnet_jni.so" \
    -cp "$java_cp" org.junit.runner.JUnitCore org.rpgnet.RpgNetTest
  run bindings "bindings/java[memory]" java -Xcheck:jni -Xms64m -Xmx64m -XX:+AlwaysPreTouch \
    -Drpgnet.jni="$PWD/$build/bindings/java/librpgnet_jni.so" \
    -cp "$java_cp" org.junit.runner.JUnitCore org.rpgnet.CreateFreeCyclesTest
  run bindings "bindings/java[callbacks]" java -Xcheck:jni -Drpgnet.jni="$PWD/$build/bindings/java/librpgnet_jni.so" \
    -cp "$java_cp" org.junit.runner.JUnitCore org.rpgnet.CallbackTest
fi
if [ -f "$build/bindings/go/built" ]; then
  go_env="PKG_CONFIG_PATH='$PWD/$build/install/lib/pkgconfig' CGO_LDFLAGS='-Wl,-rpath,$PWD/$build/install/lib'"
  run bindings bindings/go bash -c "cd bindings/go && $go_env go test -race -count=1 -v ./..."
  run bindings "bindings/go[norace]" bash -c "cd bindings/go && $go_env go test -count=1 -run TestCreateFreeCycles -v ."
fi
if [ -f "$build/bindings/csharp/RpgNetTests.exe" ]; then
  run bindings bindings/csharp env LD_LIBRARY_PATH="$PWD/$build/bindings/csharp" mono "$build/bindings/csharp/RpgNetTests.exe"
  run bindings "bindings/csharp[callbacks]" env LD_LIBRARY_PATH="$PWD/$build/bindings/csharp" mono "$build/bindings/csharp/CallbackTests.exe"
fi
# Each binding from a project of its own outside the tree, built against `make install
# PREFIX=<temporary>` as README.md shows it (tests/bindings/sample.sh; the default build only;
# counted by its exit status).
if [ "$build" = build ] && [ -f build/bindings/java/rpgnet.jar ] && [ -f build/bindings/go/built ] &&
   [ -f build/bindings/csharp/RpgNetTests.exe ]; then
  for lang in java go csharp; do run program "samples/$lang" bash tests/bindings/sample.sh "$lang"; done
fi

if [ ${#failed_names[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed_names[*]}"
fi
if [ "$skipped" -gt 0 ]; then
  echo "$skipped test cases skipped:"
  printf '  %s\n' "${skip_notes[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ]
