#!/usr/bin/env bash
# Data-parallel training under `mpirun -np 2` (README "Scaling out"), on the CLI tests' synthetic
# line images (8x8, 3 classes) and a tiny cfg with a ring, batch norm, dropout, random crops and
# flips (everything that draws random numbers or keeps statistics):
#  a. equivalence: 2 ranks follow one process over 20 updates (batch 8 in 2 passes of 4, each
#     rank one of them): every update's loss (9 digits, through the C API) within 1e-5
#     relative, the final parameters (every float of the .weights) within 1e-5 of the largest;
#     3 ranks on uneven shards (3 + 3 + 2 images) of a cfg without batch norm and dropout too;
#  b. bit-identical: both ranks' final weights are the same bytes (--save-all-ranks), and a
#     second run gives the same bytes again;
#  c. resume: 10 updates, then a resumed run to 20 on the checkpoint, gives the bytes of 20
#     updates in one go;
#  d. SIGTERM to mpirun: every rank stops at the same update, one "interrupted at update N"
#     line, one loadable checkpoint that resumes at N;
#  e. a rank killed with SIGKILL ends the job with an error, and a stopped rank (SIGSTOP) makes
#     the other end it after --mpi-timeout, within bounded time, never a hang;
#  f. a train file missing on one rank (mpirun's MPMD form gives the ranks different .data
#     files): that rank names the file, the other names that rank, before any update.
# Usage: tests/mpi/mpi.sh path/to/rpgnet   (BUILD_DIR is the binary's folder: the C API test
# program links its librpgnet.so). Prints PASS/FAIL lines and "mpi: N passed, N failed", or
# "SKIPPED: reason" where MPI is not installed.
set -u
bin=${1:?usage: $0 path/to/rpgnet}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
build=$(dirname "$bin")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
python=/usr/bin/python3

if ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIPPED: MPI is not installed (no mpirun; make deps installs openmpi-bin and libopenmpi-dev)"
  exit 0
fi
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; echo "mpi: 0 passed, 1 failed"; exit 1; }
if ! ldd "$bin" | grep -q libmpi; then
  echo "FAIL: mpirun is installed but $bin was built without MPI (make MPI=1)"
  echo "mpi: 0 passed, 1 failed"
  exit 1
fi

tmp=$(mktemp -d)
jobs_started=()
cleanup() {
  local p
  for p in "${jobs_started[@]}"; do
    if kill -0 "$p" 2>/dev/null; then pkill -CONT -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; fi
  done
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"; echo "tmp $tmp"
}
trap cleanup EXIT
finish() {
  echo "mpi: $passes passed, $failures failed"
  [ "$failures" -eq 0 ]
  exit
}

# mpirun as root (CI), more ranks than cores. On SIGINT or SIGTERM, mpirun waits this long,
# sends the ranks SIGTERM, waits this long again, then kills them (Open MPI's default: 1 s).
export OMPI_MCA_odls_base_sigkill_timeout=5
mpi=(mpirun --allow-run-as-root --oversubscribe -np)

"$python" "$here/../cli/lines_data.py" "$tmp" 7 train:300 valid:60 || { echo "FAIL: cannot write the data set"; finish; }
for name in one two three four five six seven eight nine; do
  printf 'classes = 3\ntrain = idx:train-images,train-labels\nvalid = idx:valid-images,valid-labels\nnames = names\nbackup = b_%s\n' \
    "$name" >"$tmp/$name.data"
done
cat >"$tmp/tiny.cfg" <<'EOF'
[net]
batch=8
subdivisions=2
width=8
height=8
channels=1
learning_rate=0.02
momentum=0.9
decay=0.0005
burn_in=5
max_batches=20
flip=1
crop_padding=1

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky
ring=r

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky
ring=r

[ring]
name=r
dof=0.5

[dropout]
probability=.2

[connected]
output=3
activation=linear

[softmax]
EOF
sed -e '/batch_normalize/d' -e '/^\[dropout\]/,/^probability/d' "$tmp/tiny.cfg" >"$tmp/plain.cfg"
cd "$tmp" || exit 1

train() {  # ranks (0: no mpirun), data, cfg, extra arguments...: output in out.<data>
  local n=$1 data=$2 cfg=$3
  shift 3
  if [ "$n" = 0 ]; then
    timeout 120 "$bin" classifier train "$data" "$cfg" --threads 1 --report-every 1 "$@" >"out.$data" 2>&1
  else
    timeout 120 "${mpi[@]}" "$n" "$bin" classifier train "$data" "$cfg" --threads 1 --report-every 1 "$@" >"out.$data" 2>&1
  fi
}
# Every float of two .weights files (after the 20-byte header) within tol of the largest.
weights_close() {  # a b tol
  "$python" - "$@" <<'EOF'
import struct, sys
a, b = (open(p, "rb").read() for p in sys.argv[1:3])
tol = float(sys.argv[3])
if len(a) != len(b) or a[:20] != b[:20]:
    sys.exit(f"sizes or headers differ: {len(a)} and {len(b)} bytes")
n = (len(a) - 20) // 4
x, y = struct.unpack(f"<{n}f", a[20:]), struct.unpack(f"<{n}f", b[20:])
scale = max(abs(v) for v in x)
worst = max(abs(u - v) for u, v in zip(x, y)) / scale
print(f"{n} floats, largest difference {worst:.3g} of the largest value (bytes differ: {a != b})")
sys.exit(0 if worst <= tol else 1)
EOF
}
losses_close() {  # file a, file b: the same updates, every loss within 1e-5 relative
  "$python" - "$@" <<'EOF'
import sys
def losses(p):
    return [float(l.split()[3]) for l in open(p) if l.startswith("update ")]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
worst = max((abs(u - v) / abs(u) for u, v in zip(a, b)), default=1)
print(f"{len(a)} and {len(b)} updates, largest relative difference {worst:.3g}")
sys.exit(0 if len(a) == len(b) == 20 and worst <= 1e-5 else 1)
EOF
}
has() { grep -sqF -- "$1" "$2"; }
failed_in_time() { [ "$rc" != timeout ] && [ "$rc" != 124 ] && [ "$rc" != 0 ]; }
both() { has "$1" "$3" && has "$2" "$3"; }
count_of() { grep -cF -- "$1" "$2"; }

# --- a. equivalence with one process ---------------------------------------------------------
train 0 one.data tiny.cfg
train 2 two.data tiny.cfg --save-all-ranks
check "one process trains 20 updates" has "trained 20 updates" out.one.data
check "2 ranks train 20 updates" has "trained 20 updates" out.two.data
check "2 ranks: only rank 0 prints (one 'trained' line)" [ "$(count_of "trained 20 updates" out.two.data)" = 1 ]
check "2 ranks: the run says how it split the batch" has "on 2 ranks (1 thread (oneDNN) each; 4 images of every batch per rank)" out.two.data
summary=$(grep -o 'data-parallel: [0-9]* floats' out.two.data)
check "2 ranks: the floats exchanged per update are reported (${summary:-none})" [ -n "$summary" ]
check "parameters after 20 updates: 2 ranks within 1e-5 of one process ($(weights_close b_one/tiny.weights b_two/tiny.weights 1e-5))" \
  weights_close b_one/tiny.weights b_two/tiny.weights 1e-5

cc -std=c99 -Wall -Wextra -Werror -I"$here/../../capi" -o train_capi "$here/train_capi.c" -L"$build" -lrpgnet \
  -Wl,-rpath,"$build" || fail "the C API test program does not compile"
if [ -x train_capi ]; then
  timeout 120 ./train_capi three.data tiny.cfg single >capi.single 2>&1
  check "C API, one process: 20 updates (exit $?)" has "finished 1" capi.single
  timeout 120 "${mpi[@]}" 2 bash -c 'exec ./train_capi four.data tiny.cfg mpi >capi.$OMPI_COMM_WORLD_RANK 2>&1'
  check "C API under mpirun: rpg_trainer_set_distributed says rank 0 of 2" has "rank 0 of 2" capi.0
  check "C API under mpirun: and rank 1 of 2" has "rank 1 of 2" capi.1
  check "C API: every loss of 2 ranks within 1e-5 of one process ($(losses_close capi.single capi.0))" \
    losses_close capi.single capi.0
  check "C API: both ranks report the same losses" cmp -s <(grep '^update' capi.0) <(grep '^update' capi.1)
  check "C API: 2 ranks' final weights within 1e-5 of one process" weights_close b_three/tiny.weights b_four/tiny.weights 1e-5
fi

train 0 five.data plain.cfg
train 3 six.data plain.cfg
check "3 ranks on uneven shards (3 + 3 + 2 images)" has "3 or 2 images of every batch per rank" out.six.data
check "3 ranks, uneven shards: parameters within 1e-5 of one process ($(weights_close b_five/plain.weights b_six/plain.weights 1e-5))" \
  weights_close b_five/plain.weights b_six/plain.weights 1e-5

# --- b. bit-identical on every rank and run to run ---------------------------------------------
check "rank 1 wrote its own weights (--save-all-ranks)" [ -f b_two/tiny.rank1.weights ]
check "both ranks hold the same parameters, bit for bit" cmp b_two/tiny.weights b_two/tiny.rank1.weights
mv b_two b_two.first
train 2 two.data tiny.cfg
check "a second run of 2 ranks gives the same bytes" cmp b_two.first/tiny.weights b_two/tiny.weights

# --- c. resume from a checkpoint ---------------------------------------------------------------
train 2 seven.data tiny.cfg --set net.max_batches=10
check "10 updates on 2 ranks" has "trained 10 updates" out.seven.data
mv out.seven.data out.seven.first
train 2 seven.data tiny.cfg b_seven/tiny.ckpt
check "2 ranks resume from rank 0's checkpoint at update 10" has "(resuming at update 10)" out.seven.data
check "10 + 10 resumed updates give the bytes of 20 in one run" cmp b_two/tiny.weights b_seven/tiny.weights

# --- d. SIGTERM ------------------------------------------------------------------------------
start_long() {  # data, extra arguments...: a long run in the background (pid in $job)
  local data=$1
  shift
  rm -f "out.$data" "err.$data"  # an earlier run's lines must not count as this one's progress
  "${mpi[@]}" 2 "$bin" classifier train "$data" tiny.cfg --threads 1 --set net.max_batches=1000000 --set net.burn_in=0 \
    --checkpoint-every 0 --report-every 1000 "$@" >"out.$data" 2>"err.$data" &
  job=$!
  jobs_started+=("$job")
}
wait_for() {  # seconds, command...: polls every 0.1 s
  local limit=$1 start=$SECONDS
  shift
  until "$@"; do
    [ $((SECONDS - start)) -ge "$limit" ] && return 1
    sleep 0.1
  done
}
updates_seen() { [ "$(tr '\r' '\n' 2>/dev/null <"$1" | grep -cE '/1000000 ')" -ge "$2" ]; }
ended_within() {  # seconds: the job has ended within them (its status in $rc)
  local limit=$1 start=$SECONDS
  while kill -0 "$job" 2>/dev/null; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then rc=timeout; return 1; fi
    sleep 0.1
  done
  wait "$job"
  rc=$?
}
rank_pid() {  # mpirun's child process of rank $1 (its environment names the rank), within 30 s
  local p try
  for try in $(seq 300); do
    for p in $(pgrep -P "$job"); do
      tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "$p"; return; }
    done
    sleep 0.1
  done
}

start_long eight.data
if wait_for 60 updates_seen out.eight.data 2; then
  kill -TERM "$job"
  ended_within 60
  check "SIGTERM: the job ends with a nonzero status (got $rc)" failed_in_time
  check "SIGTERM: one 'interrupted at update N' line" [ "$(count_of "interrupted at update" out.eight.data)" = 1 ]
  n=$(sed -n 's/.*interrupted at update \([0-9][0-9]*\).*/\1/p' out.eight.data | head -1)
  check "SIGTERM: rank 0's checkpoint is there" [ -f b_eight/tiny.ckpt ]
  check "SIGTERM: no other rank wrote a file" [ "$(ls b_eight | grep -vc '^tiny\.ckpt$')" = 0 ]
  timeout 60 "$bin" classifier valid eight.data tiny.cfg b_eight/tiny.ckpt --threads 1 >valid.out 2>&1
  check "SIGTERM: the checkpoint is loadable" has "top-1" valid.out
  start_long eight.data b_eight/tiny.ckpt
  wait_for 60 has "resuming at update" out.eight.data
  check "SIGTERM: 2 ranks resume at the interrupted update ${n:-none}" has "(resuming at update ${n:-none})" out.eight.data
  wait_for 60 updates_seen out.eight.data 2
  kill -INT "$job"  # Ctrl-C reaches mpirun only: the ranks have process groups of their own
  ended_within 60
  check "Ctrl-C (SIGINT to mpirun): the resumed job ends with a nonzero status (got $rc)" failed_in_time
  m=$(sed -n 's/.*interrupted at update \([0-9][0-9]*\).*/\1/p' out.eight.data | head -1)
  check "Ctrl-C: interrupted at update ${m:-none}, beyond ${n:-none}" [ "${m:-0}" -gt "${n:-0}" ]
else
  fail "SIGTERM: no progress within 60 s: $(tail -c 300 err.eight.data)"
fi

# --- e. a dead rank and a stopped rank ---------------------------------------------------------
start_long nine.data
if wait_for 60 updates_seen out.nine.data 2 && victim=$(rank_pid 1) && [ -n "$victim" ]; then
  kill -9 "$victim"
  ended_within 60
  check "a rank killed with SIGKILL: the job ends within 60 s with a nonzero status (got $rc)" failed_in_time
  check "a rank killed with SIGKILL: the error names the killed process" grep -qiE "signal 9|killed" err.nine.data
else
  fail "killed rank: the job did not start or rank 1 was not found: $(tail -c 300 err.nine.data)"
fi
rm -rf b_nine
start_long nine.data --mpi-timeout 3
if wait_for 60 updates_seen out.nine.data 2 && victim=$(rank_pid 1) && [ -n "$victim" ]; then
  kill -STOP "$victim"
  ended_within 60
  check "a stopped rank: the job ends within 60 s with a nonzero status (got $rc)" failed_in_time
  check "a stopped rank: rank 0 says it had no answer for 3 s" both "rank 0 of 2" "no answer from the other ranks for 3 s" err.nine.data
  kill -CONT "$victim" 2>/dev/null
else
  fail "stopped rank: the job did not start or rank 1 was not found: $(tail -c 300 err.nine.data)"
fi

# --- f. a data file missing on one rank ------------------------------------------------------
sed 's/train-images/missing-images/' one.data >missing.data
timeout 60 mpirun --allow-run-as-root --oversubscribe -np 1 "$bin" classifier train one.data tiny.cfg --threads 1 : \
  -np 1 "$bin" classifier train missing.data tiny.cfg --threads 1 >out.missing 2>err.missing
rc=$?
check "missing file on rank 1: the job fails (status $rc)" failed_in_time
check "missing file on rank 1: rank 1 names the file" has "missing-images" err.missing
check "missing file on rank 1: rank 0 names rank 1" has "setting up the run failed on rank 1" err.missing
no_update() { ! grep -q "trained" out.missing; }
check "missing file on rank 1: no update ran" no_update
finish
