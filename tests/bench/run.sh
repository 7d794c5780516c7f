#!/usr/bin/env bash
# Runs the benchmarks side by side and writes tests/bench/RESULTS.md: fashion-resnet against
# fashion-resnet-rpg (the generator's overhead), at 1 and 2 threads, once with the environment
# as it is and once with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (as a user's machine
# would autodetect its kernel). Usage: tests/bench/run.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
out=tests/bench/RESULTS.md
bin="$build/bench/train_step"
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
} > "$out.new"
mv "$out.new" "$out"
cat "$out"
