#!/usr/bin/env bash
# `make bench-mpi`: data-parallel training's traffic and speed (README "Scaling out"); writes the
# section "Data-parallel training over MPI" of tests/bench/RESULTS.md.
#  1. the floats summed across the ranks per update, as `mpirun -np 2 rpgnet classifier train`
#     counts them (gradients of the degrees of freedom, batch-norm statistics, control values)
#     and the bytes rank 0 handed to MPI per update, for fashion-resnet, fashion-resnet-rpg,
#     resnet18-tv and resnet18-rpg (resnet18 on a few synthetic images: only the traffic counts);
#  2. the training step at np=1 and np=2, one thread per rank, on Fashion-MNIST at the cfg's
#     batch (128): the same global batch, so np=2 gives each rank half of it.
# Usage: tests/bench/mpi.sh BUILD_DIR [REPS]   (from the repository root)
set -eu
build=${1:-build}
reps=${2:-3}
bin=$PWD/$build/rpgnet
results=tests/bench/RESULTS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v mpirun >/dev/null || { echo "bench-mpi: mpirun is missing (make deps)"; exit 1; }
ldd "$bin" | grep -q libmpi || { echo "bench-mpi: $bin was built without MPI (make MPI=1)"; exit 1; }
mpi=(mpirun --allow-run-as-root --oversubscribe)

# Fashion-MNIST (Debian's dataset-fashion-mnist) and a synthetic 1000-class PNG set for resnet18.
cat >"$tmp/fashion.data" <<EOF
classes = 10
train = idx:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz,/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz
backup = $tmp/backup
EOF
python3 tests/cli/lines_data.py "$tmp" 7 unused:3 --png 24 >/dev/null
{ printf 'h\nv\nd\n'; for i in $(seq 4 1000); do echo "class$i"; done; } >"$tmp/png/names1000"
printf 'classes = 1000\ntrain = %s/png/train.list\nlabels = %s/png/names1000\nbackup = %s/backup\n' "$tmp" "$tmp" "$tmp" \
  >"$tmp/images.data"

traffic() {  # data cfg: "floats | gradients | statistics | bytes sent" of a 2-rank run
  local out
  out=$("${mpi[@]}" -np 2 "$bin" classifier train "$1" "$2" --threads 1 --quiet --checkpoint-every 0 \
    --set net.batch=2 --set net.subdivisions=1 --set net.max_batches=2 2>&1) || { echo "$out" >&2; return 1; }
  sed -n 's/^data-parallel: \([0-9]*\) floats.*: \([0-9]*\) gradients.*, \([0-9]*\) batch-norm.*rank 0 sent \([0-9]*\) bytes per update.*/\1 \2 \3 \4/p' <<<"$out"
}
# img/s of the last progress report (updates 11-15 of 15), one thread per rank.
speed() {  # ranks cfg
  local out cmd=("$bin" classifier train "$tmp/fashion.data" "$2" --threads 1 --report-every 5 --checkpoint-every 0
                 --set net.max_batches=15 --set net.burn_in=0)
  if [ "$1" = 1 ]; then out=$(OMP_NUM_THREADS=1 "${cmd[@]}" 2>&1); else out=$("${mpi[@]}" -np "$1" -x OMP_NUM_THREADS=1 "${cmd[@]}" 2>&1); fi
  tr '\r' '\n' <<<"$out" | grep -E '^(\[.*\] +)?[ 0-9]*15/15 ' | grep -oE '[0-9]+ img/s' | tail -1 | cut -d' ' -f1
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
isa=$(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
section() {
  echo "## Data-parallel training over MPI"
  echo
  echo "Produced by \`make bench-mpi\` (tests/bench/mpi.sh) on $(date +%F): $cpu, $(nproc) cores (${isa:-no AVX2}),"
  echo "Open MPI $(mpirun --version | head -1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+'), shared memory between the ranks of one machine."
  echo
  echo "Floats summed across the ranks per update (counted by the trainer) and the bytes rank 0 handed"
  echo "to MPI per update at np=2 (reduce-scatter + all-gather: (N-1)/N of the buffer each way):"
  echo
  echo "| cfg | floats per update | DoF gradients | BN statistics | payload bytes | sent by rank 0 (np=2) | full parameters |"
  echo "|---|---|---|---|---|---|---|"
  local cfg data t full
  for cfg in cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg cfg/resnet18-tv.cfg cfg/resnet18-rpg.cfg; do
    case $cfg in *resnet18*) data=$tmp/images.data ;; *) data=$tmp/fashion.data ;; esac
    read -r -a t <<<"$(traffic "$data" "$cfg")"
    full=$("$bin" info "$cfg" | sed -n -E 's/^(full )?parameters: //p' | head -1)
    echo "| $cfg | ${t[0]} | ${t[1]} | ${t[2]} | $((4 * t[0])) | ${t[3]} | $full |"
  done
  echo
  echo "Training step on Fashion-MNIST, batch 128 (the global batch: at np=2 each rank takes 64),"
  echo "one thread per rank, median img/s of updates 11-15 over $reps alternating runs (load average"
  echo "before: $(cut -d' ' -f1-3 /proc/loadavg)):"
  echo
  echo "| cfg | np=1 img/s | np=1 step ms | np=2 img/s | np=2 step ms | speed-up |"
  echo "|---|---|---|---|---|---|"
  local one two
  for cfg in cfg/fashion-resnet.cfg cfg/fashion-resnet-rpg.cfg; do
    : >"$tmp/one"; : >"$tmp/two"
    for _ in $(seq "$reps"); do speed 1 "$cfg" >>"$tmp/one"; speed 2 "$cfg" >>"$tmp/two"; done
    one=$(median <"$tmp/one"); two=$(median <"$tmp/two")
    echo "| $cfg | $one | $(awk "BEGIN {printf \"%.0f\", 128000 / $one}") | $two |" \
      "$(awk "BEGIN {printf \"%.0f\", 128000 / $two}") | $(awk "BEGIN {printf \"%.2fx\", $two / $one}") |"
  done
}
section | tee "$tmp/section.md"
# Replace the section in RESULTS.md (or append it).
python3 - "$results" "$tmp/section.md" <<'EOF'
import re, sys
path, new = sys.argv[1], open(sys.argv[2]).read()
text = open(path).read()
m = re.search(r"^## Data-parallel training over MPI\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
text = text[:m.start()] + new + "\n" + text[m.end():] if m else text.rstrip("\n") + "\n\n" + new
open(path, "w").write(text)
EOF
echo "bench-mpi: wrote $results"
