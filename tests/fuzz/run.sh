#!/usr/bin/env bash
# Runs every fuzz target of `make fuzz` for SECONDS each (default 600) from its seed corpus,
# two at a time, and prints one line per target: runs, coverage, and "no finding" or the crash
# file. Usage: tests/fuzz/run.sh [SECONDS]   (after make fuzz; from the repository root)
set -u
seconds=${1:-600}
targets="export checkpoint weights cfg data list idx"
out=build/fuzz/runs
mkdir -p "$out"
run_one() {
  local t=$1 log="$out/$1.log"
  mkdir -p "build/fuzz/corpus/$t" "$out/$t-crashes"
  # rss and malloc limits: a loader must refuse, not allocate, what an input claims.
  build/fuzz/fuzz_"$t" "build/fuzz/corpus/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -artifact_prefix="$out/$t-crashes/" -print_final_stats=1 >"$log" 2>&1
  local rc=$? runs cov
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  if [ $rc -eq 0 ]; then
    echo "fuzz_$t: ${seconds} s, ${runs:-?} runs, coverage ${cov:-?} edges: no finding"
  else
    echo "fuzz_$t: FINDING (exit $rc) after ${runs:-?} runs: $(ls "$out/$t-crashes" | head -1) (log $log)"
  fi
}
set -- $targets
while [ $# -gt 0 ]; do
  run_one "$1" &
  if [ $# -gt 1 ]; then run_one "$2" & fi
  wait
  shift; [ $# -gt 0 ] && shift
done | tee "$out/summary.txt"
! grep -q FINDING "$out/summary.txt"
