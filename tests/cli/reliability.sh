#!/usr/bin/env bash
# Issue 15 through `rpgnet` (part A): problems are found early and never cost a good file.
#  a. SIGHUP (a closed terminal) stops `classifier train` as SIGTERM does: exit 130, a checkpoint;
#  b. a backup path that is a file, read-only or full is reported before the first update;
#  c. a diverging run (learning_rate=10, no burn-in) stops with "training diverged at update N",
#     writes no final weights, and any checkpoint it left loads (a NaN would be rejected);
#  d. a PNG cut short after the up-front check is skipped, named in a warning and counted;
#  e. stale temporary files of a killed writer are removed when training starts;
#  f. `export X.ckpt -o X.ckpt` (and through a symbolic or hard link) is refused, the input intact.
# Usage: tests/cli/reliability.sh path/to/rpgnet
# Prints PASS/FAIL lines; exits 0 only when every check passed. Everything is bounded by timeouts.
set -u
bin=${1:?usage: $0 path/to/rpgnet}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
python=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
pid=
mounts=()
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

has() { grep -q -- "$1" "$2" 2>/dev/null; }
tail_of() { tr -d '\0' <"$1" | tail -c 400; }

[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }
[ -x "$python" ] || { echo "FAIL: $python is missing"; exit 1; }

# --- data: 8x8 IDX images of three classes, and the same as a PNG list --------------------------
"$python" "$(dirname "$0")/lines_data.py" "$tmp" 7 train:120 --png 30 || { echo "FAIL: cannot write the data sets"; exit 1; }
data() {  # name, backup folder: a .data file on the IDX set
  printf 'classes = 3\ntrain = idx:train-images,train-labels\nnames = names\nbackup = %s\n' "$2" >"$tmp/$1"
}
cat >"$tmp/tiny.cfg" <<'EOF'
[net]
batch=16
width=8
height=8
channels=1
learning_rate=0.02
momentum=0.9
burn_in=10
max_batches=100000
flip=0

[connected]
output=16
activation=leaky

[connected]
output=3
activation=linear

[softmax]
EOF
cfg="$tmp/tiny.cfg"
train() {  # data, extra arguments...: in the background, pid in $pid, output in $out/$err
  local d=$1; shift
  out="$tmp/out.$RANDOM"; err="$tmp/err.$RANDOM"
  (cd "$tmp" && exec timeout 120 "$bin" classifier train "$d" "$cfg" "$@" --quiet --threads 1) >"$out" 2>"$err" &
  pid=$!
}
wait_for() {  # seconds, command...: polls every 20 ms while training runs
  local limit=$1 start=$SECONDS; shift
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || { "$@"; return; }
    [ $((SECONDS - start)) -ge "$limit" ] && return 1
    sleep 0.02
  done
}
finish_within() {  # seconds: waits for the run to end; rc (999: still running, then killed)
  local limit=$1 start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then kill -9 "$pid"; wait "$pid" 2>/dev/null; rc=999; pid=; return 1; fi
    sleep 0.02
  done
  wait "$pid"; rc=$?; pid=
}
loadable() {  # data, checkpoint: classifier valid reads it (a NaN would be rejected)
  printf 'classes = 3\nvalid = idx:train-images,train-labels\nnames = names\n' >"$tmp/valid.data"
  (cd "$tmp" && timeout 30 "$bin" classifier valid valid.data "$cfg" "$1" --threads 1) >"$tmp/valid.out" 2>&1 &&
    has "top-1" "$tmp/valid.out"
}

# --- a. SIGHUP ----------------------------------------------------------------------------------
data hup.data backup_hup
train hup.data --checkpoint-every 1
wait_for 20 test -f "$tmp/backup_hup/tiny.ckpt"
sleep 0.2
kill -HUP "$pid" 2>/dev/null
finish_within 10
check "SIGHUP: exit status 130 like SIGTERM (got $rc: $(tail_of "$err"))" [ "$rc" = 130 ]
check "SIGHUP: 'interrupted at update' on stdout" has "interrupted at update" "$out"
check "SIGHUP: the checkpoint loads" loadable backup_hup/tiny.ckpt

# --- b. the backup folder is checked before training ---------------------------------------------
echo x >"$tmp/a_file"
data file.data a_file
train file.data
finish_within 20
check "backup is a file: status 1 at once (got $rc)" [ "$rc" = 1 ]
check "backup is a file: the error names it ($(tail_of "$err"))" has "'a_file' is not a folder" "$err"
data sub.data a_file/sub
train sub.data
finish_within 20
check "backup under a file: status 1 (got $rc)" [ "$rc" = 1 ]
check "backup under a file: the error says why ($(tail_of "$err"))" has "cannot create folder 'a_file/sub': Not a directory" "$err"
data sys.data /sys/rpgnet-backup
train sys.data
finish_within 20
check "backup in /sys (no one may create files there): status 1 (got $rc)" [ "$rc" = 1 ]
check "backup in /sys: the error names it ($(tail_of "$err"))" has "/sys/rpgnet-backup" "$err"
# A read-only and a full file system, where this machine lets us mount small ones (root).
if mkdir -p "$tmp/ro" "$tmp/full" && mount -t tmpfs -o ro,size=64k tmpfs "$tmp/ro" 2>/dev/null; then
  mounts+=("$tmp/ro")
  data ro.data ro
  train ro.data
  finish_within 20
  check "read-only backup: status 1 before training (got $rc)" [ "$rc" = 1 ]
  check "read-only backup: 'Read-only file system' ($(tail_of "$err"))" has "folder 'ro' is not writable: .*Read-only file system" "$err"
  if mount -t tmpfs -o size=64k tmpfs "$tmp/full" 2>/dev/null; then
    mounts+=("$tmp/full")
    dd if=/dev/zero of="$tmp/full/filler" bs=4k count=1000 2>/dev/null
    data full.data full
    train full.data
    finish_within 20
    check "full backup: status 1 before training (got $rc)" [ "$rc" = 1 ]
    check "full backup: 'No space left on device' ($(tail_of "$err"))" has "No space left on device" "$err"
    rm -f "$tmp/full/filler"
  fi
else
  echo "INFO: cannot mount a tmpfs here (not root): the read-only and full-disk cases are covered by test_io's free-space check only"
fi

# --- c. divergence --------------------------------------------------------------------------------
data div.data backup_div
train div.data --set net.learning_rate=10 --set net.burn_in=0 --checkpoint-every 1
finish_within 60
check "divergence: status 1 (got $rc)" [ "$rc" = 1 ]
check "divergence: 'training diverged at update N' ($(tail_of "$err"))" has "training diverged at update [0-9]" "$err"
check "divergence: no final weights" [ ! -e "$tmp/backup_div/tiny.weights" ]
if [ -e "$tmp/backup_div/tiny.ckpt" ]; then
  check "divergence: the kept checkpoint loads (no NaN in it)" loadable backup_div/tiny.ckpt
fi

# --- d. an image cut short after the up-front check ----------------------------------------------
printf 'classes = 3\ntrain = train.list\nnames = names\nbackup = backup\n' >"$tmp/png/png.data"
head -c 40 "$tmp/png/v_4.png" >"$tmp/png/cut" && mv "$tmp/png/cut" "$tmp/png/v_4.png"
(cd "$tmp/png" && timeout 60 "$bin" classifier train png.data "$cfg" --set net.batch=10 --set net.max_batches=8 \
  --quiet --threads 1) >"$tmp/png.out" 2>"$tmp/png.err"
rc=$?
check "bad image: the run completes (status $rc: $(tail_of "$tmp/png.err"))" [ "$rc" = 0 ]
check "bad image: a warning names it" has "warning: skipped an unreadable sample .*v_4.png': corrupt or truncated" "$tmp/png.err"
check "bad image: counted at the end" has "1 unreadable training samples were skipped" "$tmp/png.err"

# --- e. stale temporaries of a killed writer ------------------------------------------------------
mkdir -p "$tmp/backup_stale"
echo "half a checkpoint" >"$tmp/backup_stale/tiny.ckpt.rpgnet-tmp.K9dead"
echo "half a probe" >"$tmp/backup_stale/.rpgnet-probe.rpgnet-tmp.K9dead"
data stale.data backup_stale
(cd "$tmp" && timeout 60 "$bin" classifier train stale.data "$cfg" --set net.max_batches=2 --quiet --threads 1) >/dev/null 2>&1
check "stale temporaries: removed when training starts ($(ls -A "$tmp/backup_stale" | tr '\n' ' '))" \
  [ "$(ls -A "$tmp/backup_stale" | grep -c rpgnet-tmp)" = 0 ]

# --- f. export never overwrites its input ---------------------------------------------------------
ck="$tmp/backup_stale/tiny.ckpt"
sum=$(md5sum <"$ck")
ln -s tiny.ckpt "$tmp/backup_stale/link.rpgm"
ln "$ck" "$tmp/backup_stale/hard.rpgm"
for target in "$ck" "$tmp/backup_stale/link.rpgm" "$tmp/backup_stale/hard.rpgm"; do
  "$bin" export "$cfg" "$ck" -o "$target" --bits 4 >"$tmp/exp.out" 2>"$tmp/exp.err"
  rc=$?
  check "export -o $(basename "$target") (the input): usage error, status 2 (got $rc)" [ "$rc" = 2 ]
  check "export -o $(basename "$target"): says why ($(head -c 300 "$tmp/exp.err"))" has "refusing to overwrite it" "$tmp/exp.err"
done
"$bin" export "$cfg" "$ck" -o "$tmp/x.rpgm" --darknet "$tmp/x.rpgm" >/dev/null 2>"$tmp/exp.err"
check "export with one file as two outputs: refused ($(head -c 300 "$tmp/exp.err"))" has "given as two outputs" "$tmp/exp.err"
check "export: the checkpoint is unchanged" [ "$(md5sum <"$ck")" = "$sum" ]
"$bin" export "$cfg" "$ck" -o "$tmp/ok.rpgm" --bits 8 >/dev/null 2>&1
check "export to another file still works" [ -s "$tmp/ok.rpgm" ]

echo "reliability: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
