#!/usr/bin/env bash
# `rpgnet classifier train` under signals, on a small synthetic IDX data set (8x8, 3 classes):
#  a. kill -9 at random moments while a checkpoint is written after every update, 8 times: the
#     checkpoint is always loadable (`classifier valid` exits 0), a stray temporary file
#     ('tiny.ckpt.rpgnet-tmp.XXXXXX') of a killed writer is never what gets loaded, at most the
#     live writer's own is there once a restart runs (it removes dead writers' ones), none is
#     left after the last run, and each restart resumes where the previous run had got to (the
#     update count only grows);
#  b. SIGINT (Ctrl-C): exit status 130 within seconds, "interrupted at update N" on stdout, a
#     loadable checkpoint; training on it prints "resuming at update N" with N > 0; SIGTERM does
#     the same;
#  c. `classifier recalibrate` on that checkpoint: a loadable checkpoint out, and clear errors
#     for a missing -o, --bn-recalibrate 0 and a cfg without batch norm;
#  d. --valid-every: a 'valid at update U' line every N updates but the last, and the same
#     weights, bit for bit, as the run without it.
# Usage: tests/cli/train_signals.sh path/to/rpgnet
# Prints PASS/FAIL lines; exits 0 only when every check passed. Everything is bounded by timeouts.
set -u
bin=${1:?usage: $0 path/to/rpgnet}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
python=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

finish() {
  echo "train_signals: $passes passed, $failures failed"
  [ "$failures" -eq 0 ]
  exit
}

[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }
[ -x "$python" ] || { echo "FAIL: $python is missing (needed to write the IDX files)"; exit 1; }

# --- the data set, the .data files and the cfg ----------------------------------------------
"$python" "$(dirname "$0")/lines_data.py" "$tmp" 7 train:300 valid:60 || { echo "FAIL: cannot write the IDX data set"; exit 1; }
for set in kill int; do
  printf 'classes = 3\ntrain = idx:train-images,train-labels\nvalid = idx:valid-images,valid-labels\nnames = names\nbackup = backup_%s\n' \
    "$set" >"$tmp/$set.data"
done
cat >"$tmp/tiny.cfg" <<'EOF'
[net]
batch=16
subdivisions=2
width=8
height=8
channels=1
learning_rate=0.02
momentum=0.9
decay=0.0005
burn_in=10
max_batches=100000
flip=0

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

[dropout]
probability=.2

[connected]
output=3
activation=linear

[softmax]
EOF
cfg="$tmp/tiny.cfg"

# --- helpers ---------------------------------------------------------------------------------
# Starts training in the background (pid in $pid); stdout/stderr to $tmp/out.N / $tmp/err.N.
run_no=0
start_train() {  # data, extra arguments...
  local data=$1; shift
  run_no=$((run_no + 1))
  out="$tmp/out.$run_no"; err="$tmp/err.$run_no"
  (cd "$tmp" && exec "$bin" classifier train "$data" "$cfg" "$@" --checkpoint-every 1 --quiet --threads 1) \
    >"$out" 2>"$err" &
  pid=$!
}
# Polls the command every 20 ms for up to $1 seconds; fails early when training has exited.
wait_until() {
  local limit=$1; shift
  local start=$SECONDS
  while ! "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then "$@"; return; fi
    [ $((SECONDS - start)) -ge "$limit" ] && return 1
    sleep 0.02
  done
}
# Waits up to $1 seconds for the training process to exit; sets $rc (or 999: still running).
wait_exit() {
  local limit=$1 start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then rc=999; return 1; fi
    sleep 0.02
  done
  wait "$pid"
  rc=$?
  return 0
}
kill_hard() { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rc=$?; }
file_exists() { [ -f "$1" ]; }
inode_changed() { [ -f "$1" ] && [ "$(stat -c %i "$1")" != "$2" ]; }
has_line() { grep -q "$1" "$2" 2>/dev/null; }
resumed_at() { sed -n 's/.*(resuming at update \([0-9][0-9]*\)).*/\1/p' "$1" | head -1; }
loadable() {  # data, checkpoint: `classifier valid` exits 0 and prints an accuracy
  (cd "$tmp" && timeout 20 "$bin" classifier valid "$1" "$cfg" "$2" --threads 1) >"$tmp/valid.out" 2>&1 &&
    grep -q "top-1" "$tmp/valid.out"
}
random_pause() { printf '0.%03d' $((50 + RANDOM % 351)); }  # 0.050 .. 0.400 s
tail_of() { tr -d '\0' <"$1" | tail -c 300; }

# --- a. kill -9 at random moments --------------------------------------------------------------
ckpt="$tmp/backup_kill/tiny.ckpt"
last=0
start_train kill.data
if ! wait_until 20 file_exists "$ckpt"; then
  fail "kill: no checkpoint $ckpt after 20 s: $(tail_of "$err")"
  kill_hard
  finish
fi
for round in 1 2 3 4 5 6 7 8; do
  pause=$(random_pause)
  sleep "$pause"
  kill_hard
  if [ "$rc" -ne 137 ]; then
    fail "kill round $round: training had already ended (status $rc) before kill -9: $(tail_of "$err")"
    finish
  fi
  check "kill round $round (after ${pause}s): checkpoint loadable by classifier valid" loadable kill.data "$ckpt"
  # A temporary file may remain from the writer killed mid-write (at most one: the restart
  # before it removed the earlier ones); it never replaces the checkpoint.
  strays=("$tmp"/backup_kill/tiny.ckpt.rpgnet-tmp.*)
  [ -e "${strays[0]}" ] || strays=()
  check "kill round $round: at most one stray temporary file (${#strays[@]})" [ "${#strays[@]}" -le 1 ]
  check "kill round $round: the checkpoint is an rpgnet container" [ "$(head -c 6 "$ckpt")" = RPGNET ]

  # Restart from the checkpoint: it must resume, and (once it has written a checkpoint of its
  # own) be killed at a later update than it started from.
  inode=$(stat -c %i "$ckpt")
  start_train kill.data "backup_kill/tiny.ckpt"
  if ! wait_until 20 inode_changed "$ckpt" "$inode"; then
    fail "kill round $round: the restarted run wrote no checkpoint in 20 s: $(tail_of "$err")"
    kill_hard
    finish
  fi
  n=$(resumed_at "$out")
  if [ -z "$n" ]; then
    fail "kill round $round: the restart did not print 'resuming at update N': $(tail_of "$out")"
  elif ! has_line "loaded checkpoint backup_kill/tiny.ckpt " "$out"; then
    fail "kill round $round: the restart loaded something else: $(grep loaded "$out")"
  elif [ "$n" -le "$last" ]; then
    fail "kill round $round: resumed at update $n, but the killed run had started at $last and checkpointed beyond it"
  else
    pass "kill round $round: restart resumed at update $n (previous: $last)"
  fi
  last=${n:-$last}
done
# The last restarted run: Ctrl-C's cousin SIGTERM ends it with a checkpoint.
kill -TERM "$pid"
wait_exit 10
check "SIGTERM: exit status 130 (got $rc)" [ "$rc" = 130 ]
check "SIGTERM: 'interrupted at update' on stdout" has_line "interrupted at update" "$out"
check "SIGTERM: checkpoint loadable" loadable kill.data "$ckpt"
# Every writer killed mid-write left its temporary file behind before issue 15; the restarted
# runs remove them (their lock is free), so none remains once the last run has ended.
strays=$(ls -A "$tmp/backup_kill" | grep tmp | tr '\n' ' ')
check "no stray temporary file after the last run (${strays:-none})" [ -z "$strays" ]
pid=

# --- b. Ctrl-C --------------------------------------------------------------------------------
ckpt="$tmp/backup_int/tiny.ckpt"
start_train int.data
if ! wait_until 20 file_exists "$ckpt"; then
  fail "Ctrl-C: no checkpoint $ckpt after 20 s: $(tail_of "$err")"
  kill_hard
  finish
fi
sleep "$(random_pause)"
kill -INT "$pid"
if wait_exit 5; then
  check "Ctrl-C: exit status 130 (got $rc)" [ "$rc" = 130 ]
else
  fail "Ctrl-C: still running 5 s after SIGINT"
  kill_hard
fi
check "Ctrl-C: 'interrupted at update' on stdout" has_line "interrupted at update" "$out"
m=$(sed -n 's/.*interrupted at update \([0-9][0-9]*\).*/\1/p' "$out" | head -1)
check "Ctrl-C: checkpoint loadable by classifier valid" loadable int.data "$ckpt"
start_train int.data "backup_int/tiny.ckpt"
wait_until 20 has_line "resuming at update" "$out"
n=$(resumed_at "$out")
check "resume after Ctrl-C: 'resuming at update N' with N > 0 (N = ${n:-none})" [ "${n:-0}" -gt 0 ]
check "resume after Ctrl-C: N equals the interrupted update (${m:-none})" [ "${n:-x}" = "${m:-y}" ]
kill -INT "$pid"
if wait_exit 5; then
  check "second Ctrl-C run: exit status 130 (got $rc)" [ "$rc" = 130 ]
else
  fail "second Ctrl-C run: still running 5 s after SIGINT"
  kill_hard
fi
m2=$(sed -n 's/.*interrupted at update \([0-9][0-9]*\).*/\1/p' "$out" | head -1)
check "second Ctrl-C run: interrupted at update ${m2:-none} >= $n" [ "${m2:-0}" -ge "${n:-1}" ]
pid=

# --- c. batch-norm recalibration of the interrupted run's checkpoint ---------------------------
recal() { (cd "$tmp" && timeout 60 "$bin" classifier recalibrate "$@" --threads 1) >"$tmp/recal.out" 2>"$tmp/recal.err"; }
recal int.data "$cfg" backup_int/tiny.ckpt -o recal.ckpt --bn-recalibrate 4
rc=$?
check "recalibrate: exit status 0 (got $rc: $(tail_of "$tmp/recal.err"))" [ "$rc" = 0 ]
check "recalibrate: says what it did" has_line "recalibrated 1 batch-norm layers from 4 batches of 8 images; checkpoint recal.ckpt" "$tmp/recal.out"
check "recalibrate: the output checkpoint is loadable" loadable int.data "$tmp/recal.ckpt"
recal int.data "$cfg" backup_int/tiny.ckpt
check "recalibrate without -o: usage error, status 2 (got $?)" [ "$?" = 2 ]
# expected status, message, recal arguments...: recal exits with the status and says the message.
recal_fails() {
  local want=$1 message=$2 rc
  shift 2
  recal "$@"; rc=$?
  [ "$rc" = "$want" ] && grep -qF -- "$message" "$tmp/recal.err"
}
check "recalibrate --bn-recalibrate 0: status 1 with a reason" \
  recal_fails 1 "nothing to do" int.data "$cfg" backup_int/tiny.ckpt -o x.ckpt --bn-recalibrate 0
sed '/batch_normalize/d' "$cfg" >"$tmp/nobn.cfg"
(cd "$tmp" && "$bin" classifier train int.data nobn.cfg --set net.max_batches=2 --quiet --threads 1) >/dev/null 2>&1
check "recalibrate without batch norm: status 1 naming the cfg" \
  recal_fails 1 "nobn.cfg has no batch-normalised layer" int.data nobn.cfg backup_int/nobn.ckpt -o x.ckpt

# --- d. evaluations during training ------------------------------------------------------------
for run in plain every; do
  printf 'classes = 3\ntrain = idx:train-images,train-labels\nvalid = idx:valid-images,valid-labels\nnames = names\nbackup = backup_%s\n' \
    "$run" >"$tmp/$run.data"
done
(cd "$tmp" && timeout 120 "$bin" classifier train plain.data "$cfg" --set net.max_batches=7 --quiet --threads 1) \
  >"$tmp/plain.out" 2>&1
(cd "$tmp" && timeout 120 "$bin" classifier train every.data "$cfg" --set net.max_batches=7 --valid-every 3 --quiet \
  --threads 1) >"$tmp/every.out" 2>&1
check "--valid-every 3: a line at update 3 and at 6" \
  [ "$(sed -n 's/^valid at update \([0-9]*\): top-1.*/\1/p' "$tmp/every.out" | tr '\n' ' ')" = "3 6 " ]
check "--valid-every: the final evaluation as without it" has_line "valid: top-1" "$tmp/every.out"
check "--valid-every: the same weights, bit for bit, as the run without it" \
  cmp -s "$tmp/backup_plain/tiny.weights" "$tmp/backup_every/tiny.weights"
printf 'classes = 3\ntrain = idx:train-images,train-labels\nnames = names\nbackup = backup_nv\n' >"$tmp/novalid.data"
(cd "$tmp" && timeout 60 "$bin" classifier train novalid.data "$cfg" --valid-every 2 --threads 1) >/dev/null 2>"$tmp/nv.err"
rc=$?
nv_refused() { [ "$rc" = 2 ] && grep -qF "needs a 'valid' set in novalid.data" "$tmp/nv.err"; }
check "--valid-every without a valid set: usage error, status 2 (got $rc), naming the .data file" nv_refused
finish
