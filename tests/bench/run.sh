#!/usr/bin/env bash
# Runs the benchmarks side by side and writes tests/bench/RESULTS.md: fashion-resnet against
# fashion-resnet-rpg (the generator's overhead), then rpgnet against PyTorch on fashion-resnet,
# fashion-resnet-rpg and lenet (tests/bench/compare.py), each at 1 and 2 threads, once with the
# environment as it is and once with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (as a user's
# machine would autodetect its kernel). Usage: tests/bench/run.sh BUILD_DIR [REPS]
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
  echo "the first row (for fashion-resnet-rpg: the generator's overhead)."
  echo
  for env_mode in as-is unset; do
    for t in 1 2; do
      echo "## threads $t, environment: $env_mode"
      echo
      if [ $env_mode = as-is ]; then
        "$bin" --threads $t --reps 9 cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg
      else
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bin" --threads $t --reps 9 cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg
      fi
      echo
    done
  done
  echo "# rpgnet against PyTorch"
  echo
  /usr/bin/python3 tests/bench/compare.py --build "$build" --reps "$reps" \
    cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg cfg/lenet.cfg
  # The hand-written record of engine changes and their measured effect stays as it is.
  if [ -f "$out" ]; then sed -n '/^# Engine changes/,$p' "$out" | sed '1s/^/\n/'; fi
} > "$out.new"
mv "$out.new" "$out"
cat "$out"
