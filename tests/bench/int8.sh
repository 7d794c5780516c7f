#!/usr/bin/env bash
# Int8 inference of fashion-resnet-rpg (issue 17): top-1 of the float32 checkpoint, of the 8-bit
# export run in float32, and of the int8 export run on the int8 engine; inference images/s at
# batch 128 and batch-1 latency of the int8 engine against the float32 oneDNN path on each
# thread count; the oneDNN kernels the int8 engine chose; a profile of one batch-128 pass of each
# (oneDNN's own per-primitive times, DNNL_VERBOSE) saying where the time goes; and the speed of a
# ring pruned by 50% (its zeros are unstructured in the expanded weights). Writes the section
# between "<!-- int8 begin -->" and "<!-- int8 end -->" of OUT (appended when absent; the rest of
# the file is kept; tests/bench/export_table.sh keeps the section too).
#
# Usage (from the repository root, after `make` and `make build/bench/infer_export`, which
# `make int8-bench` does):
#   tests/bench/int8.sh [BUILD_DIR] [--set SECTION.KEY=VALUE ...]
# The --set options apply to training. Environment:
#   CKPT          a trained cfg/fashion-resnet-rpg.cfg checkpoint to measure (default: train one
#                 as the demo does, 3 epochs, which takes about 20 minutes on two cores)
#   CALIBRATE     calibration batches of 128 training images (default 10)
#   THREADS       thread counts to time                              (default "1 2")
#   TRAIN_THREADS threads for training and evaluation                (default 2)
#   STEPS         timed batch-128 passes per measurement (median)    (default 20)
#   LATENCY_REPS  timed batch-1 passes per measurement (median)      (default 200)
#   OUT           the file whose int8 section is written            (default tests/bench/EXPORT.md)
#   WORK          working folder (checkpoint, exports)               (default: a temporary one)
# The timings need a quiet machine: nothing else running on its cores. A smoke test of the
# whole pipeline in about two minutes (numbers meaningless):
#   CALIBRATE=1 STEPS=2 LATENCY_REPS=5 THREADS=1 OUT=/tmp/int8.md tests/bench/int8.sh build --set net.max_batches=5
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_args int8.sh "$@"
CALIBRATE=${CALIBRATE:-10}
THREADS=${THREADS:-"1 2"}
TRAIN_THREADS=${TRAIN_THREADS:-2}
STEPS=${STEPS:-20}
LATENCY_REPS=${LATENCY_REPS:-200}
OUT=${OUT:-tests/bench/EXPORT.md}
root=$(pwd)
rpgnet="$root/$build/rpgnet"
infer="$root/$build/bench/infer_export"
cfg="$root/cfg/fashion-resnet-rpg.cfg"
for b in "$rpgnet" "$infer"; do
  [ -x "$b" ] || { echo "int8.sh: $b not built (make int8-bench builds it)" >&2; exit 1; }
done
if [ -n "${WORK:-}" ]; then
  work=$WORK; mkdir -p "$work"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi


data=$(make_data "$work/train")
if [ -n "${CKPT:-}" ]; then
  ckpt=$CKPT
  trained="the checkpoint $CKPT"
else
  echo "== training cfg/fashion-resnet-rpg.cfg" >&2
  "$rpgnet" classifier train "$data" "$cfg" "${train_sets[@]}" --threads "$TRAIN_THREADS" --quiet --checkpoint-every 0 >&2
  ckpt="$work/train/fashion-resnet-rpg.ckpt"
  trained="cfg/fashion-resnet-rpg.cfg as the demo trains it${train_sets[*]:+, with ${train_sets[*]}}"
fi

echo "== exporting" >&2
"$rpgnet" export "$cfg" "$ckpt" -o "$work/b8.rpgm" --bits 8 --threads "$TRAIN_THREADS" >/dev/null
"$rpgnet" export "$cfg" "$ckpt" -o "$work/int8.rpgm" --int8 --data "$data" --calibrate "$CALIBRATE" \
  --threads "$TRAIN_THREADS" >/dev/null
"$rpgnet" export "$cfg" "$ckpt" -o "$work/int8-p50.rpgm" --int8 --prune 0.5 --data "$data" \
  --calibrate "$CALIBRATE" --threads "$TRAIN_THREADS" >/dev/null

echo "== top-1" >&2
t=(--threads "$TRAIN_THREADS")
acc_f32=$(top1 "$data" "$cfg" "$ckpt" "${t[@]}")
acc_b8=$(top1 "$data" "$cfg" "$work/b8.rpgm" "${t[@]}")
acc_i8f=$(top1 "$data" "$cfg" "$work/int8.rpgm" --fp32 "${t[@]}")
acc_i8=$(top1 "$data" "$cfg" "$work/int8.rpgm" "${t[@]}")
delta=$(awk -v a="$acc_i8" -v b="$acc_f32" 'BEGIN { printf "%+.2f", a - b }')
within=$(awk -v a="$acc_i8" -v b="$acc_f32" 'BEGIN { print (a - b >= -0.5 && a - b <= 0.5) ? "yes" : "no" }')

# value KEY LINE: the number after KEY= in an infer_export line.
value() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== speed" >&2
speed_rows=()
prune_rows=()
for n in $THREADS; do
  opts=(--threads "$n" --steps "$STEPS" --latency-reps "$LATENCY_REPS")
  f=$("$infer" "${opts[@]}" --fp32 "$work/int8.rpgm")
  i=$("$infer" "${opts[@]}" "$work/int8.rpgm")
  echo "$n threads: float32 $f; int8 $i" >&2
  speed_rows+=("| $n | $(value images_per_s "$f") | $(value images_per_s "$i") | $(ratio "$(value images_per_s "$i")" "$(value images_per_s "$f")")x | $(value latency_ms "$f") | $(value latency_ms "$i") | $(ratio "$(value latency_ms "$f")" "$(value latency_ms "$i")")x |")
  pf=$("$infer" "${opts[@]}" --fp32 "$work/int8-p50.rpgm")
  pi=$("$infer" "${opts[@]}" "$work/int8-p50.rpgm")
  prune_rows+=("| $n | $(value images_per_s "$f") | $(value images_per_s "$pf") | $(value images_per_s "$i") | $(value images_per_s "$pi") |")
done
int8_layers=$(value int8_layers "$i")

echo "== kernels and profile" >&2
kernels=$("$rpgnet" info "$work/int8.rpgm" --threads 1 | sed -n 's/^  layer \([0-9]*\) \([a-z]*\): \(.*\)$/| \1 | \2 | \3 |/p')
# One pass at batch 128 on 1 thread after 2 warm-up passes (infer_export --profile), oneDNN's
# verbose log of it: milliseconds per primitive kind and implementation; the rest of the whole
# pass is the float32 layers rpgnet runs itself (shortcut, avgpool, softmax) and its own loops.
profile() {
  DNNL_VERBOSE=1 "$infer" --threads 1 --batch 128 --warmup 2 --profile "$@" 2>/dev/null | awk -F, '
    /^profile_begin/ { on = 1; next }
    /^profile_end/ { split($0, t, "infer_ms="); total = t[2]; on = 0; next }
    on && $2 == "exec" { k = $4 ", " $5; ms[k] += $NF; all += $NF }
    END {
      for (k in ms) printf "| %s | %.2f |\n", k, ms[k]
      printf "| all oneDNN primitives | %.2f |\n| the whole pass | %.2f |\n", all, total
    }'
}
prof_f32=$(profile --fp32 "$work/int8.rpgm")
prof_i8=$(profile "$work/int8.rpgm")

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
isa=$(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')
section=$(
  echo "<!-- int8 begin -->"
  echo "## Int8 inference (issue 17)"
  echo
  echo "Produced by tests/bench/int8.sh on $(date -u +%Y-%m-%d) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')),"
  echo "on $cpu (${isa% }); $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Model: $trained. Int8 export: \`--int8\` (8-bit ring, one scale), activations calibrated"
  echo "(min/max per tensor) on $CALIBRATE batches of 128 training images. Top-1 on the 10,000 test images."
  echo
  echo "| model | runs | top-1 (%) |"
  echo "| --- | --- | --- |"
  echo "| checkpoint | float32 | $acc_f32 |"
  echo "| \`--bits 8\` export (a scale per block) | float32 | $acc_b8 |"
  echo "| \`--int8\` export | float32 (\`--fp32\`) | $acc_i8f |"
  echo "| \`--int8\` export | int8 ($int8_layers layers) | $acc_i8 |"
  echo
  echo "Int8 against float32: $delta points (within 0.5 point: $within)."
  echo
  echo "Inference of the \`--int8\` export, int8 engine against the float32 oneDNN path (\`--fp32\`),"
  echo "random inputs; medians of $STEPS passes at batch 128 and $LATENCY_REPS at batch 1:"
  echo
  echo "| threads | float32 images/s (batch 128) | int8 images/s | speed-up | float32 batch-1 ms | int8 batch-1 ms | speed-up |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${speed_rows[@]}"
  echo
  echo "Kernels (\`rpgnet info\` on the int8 export, batch 1):"
  echo
  echo "| layer | type | runs as |"
  echo "| --- | --- | --- |"
  echo "$kernels"
  echo
  echo "Profile of one batch-128 pass on 1 thread (oneDNN's own times, DNNL_VERBOSE; ms):"
  echo
  echo "float32:"
  echo
  echo "| primitive, implementation | ms |"
  echo "| --- | --- |"
  echo "$prof_f32"
  echo
  echo "int8:"
  echo
  echo "| primitive, implementation | ms |"
  echo "| --- | --- |"
  echo "$prof_i8"
  echo
  echo "Ring pruning (50% of the ring's entries zeroed, the same \`--int8\` export otherwise),"
  echo "batch-128 images/s. The zeros are scattered through the expanded weights (the permutation"
  echo "spreads each ring entry over every layer), and the kernels are dense."
  echo
  echo "| threads | float32 | float32, 50% pruned | int8 | int8, 50% pruned |"
  echo "| --- | --- | --- | --- | --- |"
  printf '%s\n' "${prune_rows[@]}"
  echo "<!-- int8 end -->"
)
touch "$OUT"
awk -v section="$section" '
  /^<!-- int8 begin -->$/ { skip = 1; if (!done) { print section; done = 1 } next }
  /^<!-- int8 end -->$/ { skip = 0; next }
  !skip { print }
  END { if (!done) { print ""; print section } }' "$OUT" > "$OUT.new"
mv "$OUT.new" "$OUT"
echo "$section"
