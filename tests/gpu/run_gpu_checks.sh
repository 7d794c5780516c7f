#!/usr/bin/env bash
# The GPU checks, as one prepared run on a machine with an NVIDIA GPU (the `device` tool: run it
# from the repository root; the tool sets $OUT). Builds the GPU build (make GPU=1), runs the CUDA
# suite (tests/test_cuda.cc: every Backend operation and a training step against the CPU), a
# CLI smoke test and the GPU benchmark (training and inference images/s of fashion-resnet,
# fashion-resnet-rpg and resnet18-rpg), then, if time is left and compute-sanitizer exists, the
# suite's kernels under memcheck and racecheck. Everything lands under $OUT:
#   nvidia-smi.txt  the card          build.log   the build        test_cuda.log  the suite
#   cli.log         --gpu smoke test  bench_*.md  benchmark tables RESULTS-gpu.md  a section for
#   sanitizer_*.log (optional)        summary.txt one line per step    tests/bench/RESULTS.md
# Exit status: 0 when the build and the suite passed, none of it skipped (the benchmark is
# reported, not judged).
#   usage: OUT=dir tests/gpu/run_gpu_checks.sh [--jobs N]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/rpgnet-gpu-checks}
jobs=16
[ "${1:-}" = "--jobs" ] && jobs=${2:-16}
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"
start=$(date +%s)
note() { echo "$*" | tee -a "$summary"; }
elapsed() { echo $(( $(date +%s) - start )); }

echo "== nvidia-smi"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv >> "$out/nvidia-smi.txt" 2>&1
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
note "card: ${card:-unknown (nvidia-smi failed)}"

echo "== build (make GPU=1 -j$jobs)"
if make --no-print-directory GPU=1 -j"$jobs" lib cli build/gpu/tests/test_cuda build/gpu/bench/train_step \
    > "$out/build.log" 2>&1; then
  note "build: ok ($(elapsed) s)"
else
  tail -40 "$out/build.log"
  note "build: FAILED (see build.log)"
  exit 1
fi

echo "== CUDA suite"
timeout 300 build/gpu/tests/test_cuda --log_level=test_suite --report_level=detailed --color_output=false \
  > "$out/test_cuda.log" 2>&1
suite=$?
grep -E "test_cuda:|error|failed|passed|skipped" "$out/test_cuda.log" | head -40
suite_ok=0
if [ $suite -eq 0 ] && ! grep -q "skipped" "$out/test_cuda.log"; then
  suite_ok=1
  note "test_cuda: passed ($(grep -oE '[0-9]+ test cases? out of [0-9]+ passed' "$out/test_cuda.log" | head -1))"
else
  note "test_cuda: FAILED or SKIPPED (exit $suite; see test_cuda.log)"
fi

echo "== CLI smoke test"
{
  build/gpu/rpgnet info cfg/fashion-resnet-rpg.cfg --gpu 0 && echo "info --gpu 0: ok"
  build/gpu/rpgnet info cfg/fashion-resnet.cfg --gpu 99; echo "info --gpu 99: exit $? (expected 1)"
} > "$out/cli.log" 2>&1
note "cli: $(grep -c ': ok' "$out/cli.log") of 1 ok; $(tail -1 "$out/cli.log")"

echo "== benchmark"
bench=build/gpu/bench/train_step
timeout 240 "$bench" --gpu 0 --batch 128 --reps 15 cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg \
  > "$out/bench_fashion.md" 2>&1
note "bench fashion (batch 128): exit $?"
timeout 240 "$bench" --gpu 0 --batch 64 --reps 8 cfg/resnet18.cfg cfg/resnet18-rpg.cfg > "$out/bench_resnet18.md" 2>&1
note "bench resnet18 (batch 64): exit $?"
cat "$out"/bench_*.md
{
  echo "## GPU: ${card:-unknown}"
  echo
  echo "Produced by tests/gpu/run_gpu_checks.sh on $(date -u +%Y-%m-%d) (build/gpu, make GPU=1; one CUDA"
  echo "device, cuBLAS sgemm in full float32). Synthetic inputs; a training step is the upload of the"
  echo "batch, forward, backward and update, timed until the device is idle; inference is the upload,"
  echo "a forward pass and the download of the outputs. 'vs first' compares with the first row (the"
  echo "generator's overhead for the -rpg networks); 'faults/step' counts host page faults."
  echo
  echo "### fashion-resnet and fashion-resnet-rpg, batch 128"
  echo
  cat "$out/bench_fashion.md"
  echo
  echo "### resnet18 and resnet18-rpg (224x224, 1000 classes), batch 64"
  echo
  cat "$out/bench_resnet18.md"
} > "$out/RESULTS-gpu.md"

# Optional: the kernels under compute-sanitizer while time is left (the device tool allows
# about 10 minutes per command).
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if [ -n "$sanitizer" ] && [ "$(elapsed)" -lt 330 ]; then
  echo "== compute-sanitizer"
  timeout 120 "$sanitizer" --tool memcheck --error-exitcode 9 build/gpu/tests/test_cuda \
    --run_test=vector_operations,im2col_and_col2im,convolutions,pooling,shortcut_upsample_crop,ring_generator_is_bit_identical \
    > "$out/sanitizer_memcheck.log" 2>&1
  note "memcheck: exit $? ($(grep -m1 -oE 'ERROR SUMMARY: [0-9]+ errors?' "$out/sanitizer_memcheck.log"))"
  timeout 90 "$sanitizer" --tool racecheck --error-exitcode 9 build/gpu/tests/test_cuda \
    --run_test=batch_norm,softmax_and_costs > "$out/sanitizer_racecheck.log" 2>&1
  note "racecheck: exit $? ($(grep -m1 -oE 'ERROR SUMMARY: [0-9]+ (errors?|hazards?)' "$out/sanitizer_racecheck.log"))"
else
  note "compute-sanitizer: not run (${sanitizer:-not installed}; $(elapsed) s elapsed)"
fi

note "total: $(elapsed) s"
[ $suite_ok -eq 1 ]
