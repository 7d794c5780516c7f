#!/usr/bin/env bash
# Runs the benchmarks side by side and writes tests/bench/RESULTS.md: fashion-resnet against
# fashion-resnet-rpg (the generator's overhead) and against the reference engine, then rpgnet
# against PyTorch on fashion-resnet, fashion-resnet-rpg and lenet at batch 128 and Darknet's
# resnet18.cfg at 224x224, batch 16 (tests/bench/compare.py), each at 1 and 2 threads, once with
# the environment as it is and once with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (as a
# user's machine would autodetect its kernel). Usage: tests/bench/run.sh BUILD_DIR [REPS]
# The machine should be otherwise idle: the figures are wall-clock times.
set -euo pipefail
build=${1:-build}
out=tests/bench/RESULTS.md
bin="$build/bench/train_step"
reps=${2:-5}
{
  echo "# Benchmark results"
  echo
  echo "Produced by \`make bench\` (tests/bench/run.sh) on $(date -u +%Y-%m-%d). Each table alternates the"
  echo "networks (A B A B ...) and reports medians; 'vs first' is the training step's time relative to"
  echo "the first row (for fashion-resnet-rpg: the generator's overhead; for reference:...: the"
  echo "reference engine, rpgnet --deterministic, against oneDNN)."
  echo
  modes="as-is unset"
  if [ -z "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
    modes="as-is"
    echo "Neither OPENBLAS_CORETYPE nor OPENBLAS_L2_SIZE is set here: environment \"as-is\" is also \"unset\"."
    echo
  fi
  for env_mode in $modes; do
    for t in 1 2; do
      echo "## threads $t, environment: $env_mode"
      echo
      nets=(cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg reference:cfg/fashion-resnet.cfg)
      if [ $env_mode = as-is ]; then
        "$bin" --threads $t --reps 9 "${nets[@]}"
      else
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" --threads $t --reps 9 "${nets[@]}"
      fi
      echo
    done
  done
  # oneDNN picks its kernels by instruction set: on a machine with AVX-512, the same comparison
  # with oneDNN held to AVX2 (and OpenBLAS to its Haswell kernels) shows what an AVX2-only
  # machine gets (no oneDNN Winograd there).
  if grep -q avx512f /proc/cpuinfo; then
    for t in 1 2; do
      echo "## threads $t, AVX2 only (ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell)"
      echo
      ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell "$bin" --threads $t --reps 9 \
        cfg/fashion-resnet.cfg reference:cfg/fashion-resnet.cfg
      echo
    done
  fi
  # Each operation oneDNN could take over from the backend's own loops, measured (issue 16):
  # what runs on oneDNN is what wins here.
  for t in 1 2; do
    echo "## oneDNN against the backend's own loops, per operation, threads $t (tests/bench/ops.cc)"
    echo
    "$build/bench/ops" --threads $t --reps 20
    echo
  done
  echo "# rpgnet against PyTorch"
  echo
  /usr/bin/python3 tests/bench/compare.py --build "$build" --reps "$reps" \
    cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg cfg/lenet.cfg
  # Where the environment sets no OpenBLAS kernel, the comparison again with one set, as some
  # machines do (Haswell: what the earlier sessions' machines forced).
  if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    echo "## With OPENBLAS_CORETYPE=Haswell set"
    echo
    OPENBLAS_CORETYPE=Haswell /usr/bin/python3 tests/bench/compare.py --build "$build" --reps "$reps" --envs as-is \
      cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg
  fi
  if [ -f ../shared/darknet-cfg/resnet18.cfg ]; then
    echo "## ResNet-18 (Darknet's resnet18.cfg) at 224x224, batch 16"
    echo
    /usr/bin/python3 tests/bench/compare.py --build "$build" --reps "$reps" \
      ../shared/darknet-cfg/resnet18.cfg,batch=16,size=224,reps=1
  fi
  # The hand-written record of engine changes and their measured effect stays as it is.
  if [ -f "$out" ]; then sed -n '/^# Engine changes/,$p' "$out" | sed '1s/^/\n/'; fi
} > "$out.new"
mv "$out.new" "$out"
cat "$out"
