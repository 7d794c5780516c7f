#!/usr/bin/env bash
# The export table (RPG.md, "Pruning and quantization"): fashion-resnet-rpg trained at several
# DoF, exported at 32, 8 and 4 bits with 0%, 50% and 80% of the ring pruned, the pruned ones also
# after fine-tuning with the mask frozen (classifier train --prune); Fashion-MNIST test accuracy
# and file sizes against the format's bound, as a markdown table in tests/bench/EXPORT.md (whose
# int8 section, written by tests/bench/int8.sh, is kept).
#
# Usage (from the repository root, after `make`):
#   tests/bench/export_table.sh [BUILD_DIR] [--set SECTION.KEY=VALUE ...]
# The --set options apply to the initial training runs. Environment:
#   DOFS        ring DoF values                       (default "0.1 0.03")
#   THREADS     CPU threads                           (default 2)
#   FT_BATCHES  fine-tuning updates per pruned model  (default 300)
#   FT_LR       fine-tuning learning rate             (default 0.01)
#   UNSHARED    precision of the unshared parameters  (default fp32; or fp16)
#   OUT         the table                             (default tests/bench/EXPORT.md)
#   WORK        working folder (checkpoints, exports) (default: a temporary one, removed at the end)
# The full run (3 epochs per DoF, as cfg/fashion-resnet-rpg.cfg says) takes about an hour on two
# cores. A smoke test of the whole pipeline in a few minutes:
#   FT_BATCHES=2 OUT=/tmp/export.md tests/bench/export_table.sh build --set net.max_batches=5
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_args export_table.sh "$@"
DOFS=${DOFS:-"0.1 0.03"}
THREADS=${THREADS:-2}
FT_BATCHES=${FT_BATCHES:-300}
FT_LR=${FT_LR:-0.01}
UNSHARED=${UNSHARED:-fp32}
OUT=${OUT:-tests/bench/EXPORT.md}
root=$(pwd)
rpgnet="$root/$build/rpgnet"
cfg="$root/cfg/fashion-resnet-rpg.cfg"
[ -x "$rpgnet" ] || { echo "export_table.sh: $rpgnet not built (run make)" >&2; exit 1; }
if [ -n "${WORK:-}" ]; then
  work=$WORK; mkdir -p "$work"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi


rows=()
for dof in $DOFS; do
  dir="$work/dof$dof"
  data=$(make_data "$dir/train")
  echo "== dof $dof: training" >&2
  "$rpgnet" classifier train "$data" "$cfg" --set "ring.global.dof=$dof" "${train_sets[@]}" \
    --threads "$THREADS" --quiet --checkpoint-every 0 >&2
  ckpt="$dir/train/fashion-resnet-rpg.ckpt"
  k=$("$rpgnet" info "$cfg" --set "ring.global.dof=$dof" | sed -n "s/^ring 'global': K = \([0-9,]*\) entries.*/\1/p" | head -1)
  base=""
  for prune in 0 0.5 0.8; do
    for tuned in no yes; do
      [ "$prune" = 0 ] && [ $tuned = yes ] && continue
      weights=$ckpt
      if [ $tuned = yes ]; then
        echo "== dof $dof: fine-tuning with $prune pruned" >&2
        ftdata=$(make_data "$dir/ft$prune")
        "$rpgnet" classifier train "$ftdata" "$cfg" "$ckpt" -clear --prune "$prune" --set "ring.global.dof=$dof" \
          --set "net.max_batches=$FT_BATCHES" --set "net.learning_rate=$FT_LR" --set net.burn_in=0 \
          --threads "$THREADS" --quiet --checkpoint-every 0 >&2
        weights="$dir/ft$prune/fashion-resnet-rpg.ckpt"
      fi
      for bits in 32 8 4; do
        model="$dir/m-p$prune-$tuned-b$bits.rpgm"
        "$rpgnet" export "$cfg" "$weights" -o "$model" --bits "$bits" --prune "$prune" --unshared "$UNSHARED" \
          --set "ring.global.dof=$dof" >/dev/null
        size=$(stat -c %s "$model")
        bound=$("$rpgnet" info "$model" | sed -n 's/.*the format.s bound: .* = \([0-9,]*\)).*/\1/p' | tr -d ,)
        [ "$size" -le "$bound" ] || { echo "export_table.sh: $model is $size bytes, above its bound $bound" >&2; exit 1; }
        acc=$(top1 "$data" "$cfg" "$model" --set "ring.global.dof=$dof" --threads "$THREADS")
        [ -n "$base" ] || base=$acc
        delta=$(awk -v a="$acc" -v b="$base" 'BEGIN { printf "%+.2f", a - b }')
        pct=$(awk -v p="$prune" 'BEGIN { printf "%d%%", p * 100 }')
        rows+=("| $dof | $k | $pct | $tuned | $bits | $size | $bound | $acc | $delta |")
        echo "dof $dof prune $pct fine-tuned $tuned bits $bits: $size bytes (bound $bound), top-1 $acc%" >&2
      done
    done
  done
done

{
  echo "# Export: size and accuracy (fashion-resnet-rpg on Fashion-MNIST)"
  echo
  echo "Produced by tests/bench/export_table.sh on $(date -u +%Y-%m-%d) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))."
  echo "Training: cfg/fashion-resnet-rpg.cfg${train_sets[*]:+ with ${train_sets[*]}}; fine-tuning: $FT_BATCHES updates at"
  echo "learning rate $FT_LR with the pruning mask frozen. Unshared parameters as $UNSHARED. 'bound' is"
  echo "K*B/8 + unshared + 4096 bytes; 'Δ' is top-1 against the float32 unpruned export (= the checkpoint)."
  echo
  echo "| DoF | K | pruned | fine-tuned | bits | file (bytes) | bound (bytes) | top-1 (%) | Δ (points) |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  # The int8 section (tests/bench/int8.sh) is kept as it was.
  if [ -f "$OUT" ] && grep -q '^<!-- int8 begin -->$' "$OUT"; then
    echo
    sed -n '/^<!-- int8 begin -->$/,/^<!-- int8 end -->$/p' "$OUT"
  fi
} > "$OUT.new"
mv "$OUT.new" "$OUT"
cat "$OUT"
