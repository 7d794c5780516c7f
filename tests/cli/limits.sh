#!/usr/bin/env bash
# Limits through the command (issue 15): `rpgnet info` refuses shapes whose int arithmetic used to
# wrap ([route] of 65,537 inputs, [upsample] chains) at their file:line; builds a network whose
# activations would not fit without allocating them; and /dev/zero or a FIFO given as a cfg or
# weights file is refused at once instead of read without end or waited on.
# Usage: tests/cli/limits.sh path/to/rpgnet. Prints PASS/FAIL lines; exits 0 only when all pass.
set -u
bin=${1:?usage: $0 path/to/rpgnet}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
failures=0
passes=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }

# run WHAT EXPECTED_RC NEEDLE ARGS...: the command exits with EXPECTED_RC within 60 s and its
# output (stdout and stderr) holds NEEDLE.
run() {
  local what=$1 want=$2 needle=$3 rc
  shift 3
  timeout 60 "$bin" "$@" >"$tmp/out" 2>&1
  rc=$?
  if [ "$rc" -eq "$want" ] && grep -qF -- "$needle" "$tmp/out"; then
    pass "$what"
  else
    fail "$what: exit $rc (expected $want), output: $(head -c 400 "$tmp/out")"
  fi
}

{
  printf '[net]\nwidth=1\nheight=1\nchannels=1\n[convolutional]\nfilters=65536\nsize=1\nactivation=linear\n[route]\nlayers=0'
  for _ in $(seq 65536); do printf ',0'; done
  printf '\n'
} >"$tmp/route.cfg"
run "route of 65,537 inputs" 1 "route.cfg:10: route of 16385 inputs: 1073807360 channels exceed the limit of 1073741824" info "$tmp/route.cfg"

printf '[net]\nwidth=256\nheight=256\nchannels=1\n[upsample]\nstride=64\n[upsample]\nstride=64\n' >"$tmp/upsample.cfg"
run "upsample chain" 1 "upsample.cfg:7: [upsample] output from input 16384 x 16384 x 1: 1048576 rows exceed" \
  info "$tmp/upsample.cfg"

# 64 inputs of 2^30 floats: 256 GiB for the input buffer alone, which info used to allocate.
printf '[net]\nbatch=64\ninputs=1073741824\n[dropout]\n' >"$tmp/big.cfg"
run "info allocates no activations" 0 "memory at batch 64: parameters 0 bytes, activations 1.00 TiB" \
  info "$tmp/big.cfg"

mkfifo "$tmp/fifo"
run "/dev/zero as a cfg" 1 "cannot open cfg file '/dev/zero': not a regular file" info /dev/zero
run "a FIFO as a cfg" 1 "cannot open cfg file '$tmp/fifo': not a regular file" info "$tmp/fifo"
printf '[net]\nwidth=4\nheight=4\nchannels=1\n[connected]\noutput=2\n' >"$tmp/small.cfg"
run "/dev/zero as weights" 1 "cannot open weights file '/dev/zero': not a regular file" \
  export "$tmp/small.cfg" /dev/zero -o "$tmp/x.rpgm"
run "a FIFO as weights" 1 "cannot open weights file '$tmp/fifo': not a regular file" \
  export "$tmp/small.cfg" "$tmp/fifo" -o "$tmp/x.rpgm"

echo "limits: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
