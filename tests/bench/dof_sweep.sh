#!/usr/bin/env bash
# The paper's claim on Fashion-MNIST (issue 9): test accuracy against degrees of freedom.
# Trains, with one training budget and several seeds each,
#   - fashion-resnet-rpg at each ring DoF fraction in DOFS (one global ring, RPG.md);
#   - the plain fashion-resnet (every parameter free);
#   - for each DoF fraction, fashion-resnet made narrower (w and 2w channels in place of 32 and
#     64) with w chosen so that its parameter count is closest to that RPG network's total DoF:
#     the paper's "same DoF, smaller model" comparison;
# recomputes each trained network's batch-norm running statistics from RECAL training batches
# with its weights fixed (`rpgnet classifier recalibrate`: after a short training they lag the
# weights and make the test accuracy a matter of luck), evaluates it,
# then writes a markdown table (mean, sample standard deviation, min-max over the seeds), a
# least-squares fit of the RPG networks' mean accuracy against log10(total DoF) with its R^2,
# a per-point verdict RPG against narrow, and a PNG plot (gnuplot).
#
# Usage (from the repository root, after `make`; gnuplot from `make bench-deps`):
#   tests/bench/dof_sweep.sh [BUILD_DIR]
# Environment:
#   DOFS     ring DoF fractions             (default "0.001 0.003 0.01 0.03 0.1 0.3 1.0")
#   SEEDS    seeds (net.seed and ring seed) (default "1 2 3")
#   BATCHES  training updates of 128 images (default 469: one epoch, the one budget every network
#            gets; issue 19)
#   RECAL    batches of 128 training images for the batch-norm recalibration (default 100; 0: off)
#   JOBS     trainings run at once          (default 2, each on 2/JOBS threads; on the oneDNN
#                                            engine a thread count changes only the last bits)
#   OUT      the table                      (default tests/bench/DOF.md)
#   PLOT     the plot                       (default tests/bench/dof.png)
#   WORK     working folder                 (default /tmp/rpgnet-dof-sweep: cfgs, training logs,
#                                            checkpoints)
#   RESULTS  one small text line per finished run (default tests/bench/dof-runs/b<BATCHES>-
#            recal<RECAL>, in the repository: commit it as runs finish, and a rerun, even from a
#            fresh clone, skips them; the sweep can be done in pieces)
set -euo pipefail
build=build
[ $# -gt 0 ] && { build=$1; shift; }
DOFS=${DOFS:-"0.001 0.003 0.01 0.03 0.1 0.3 1.0"}
SEEDS=${SEEDS:-"1 2 3"}
BATCHES=${BATCHES:-469}
RECAL=${RECAL:-100}
JOBS=${JOBS:-2}
OUT=${OUT:-tests/bench/DOF.md}
PLOT=${PLOT:-tests/bench/dof.png}
WORK=${WORK:-/tmp/rpgnet-dof-sweep}
root=$(pwd)
rpgnet="$root/$build/rpgnet"
[ -x "$rpgnet" ] || { echo "dof_sweep.sh: $rpgnet not built (run make)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "dof_sweep.sh: gnuplot not found (make bench-deps installs it)" >&2; exit 1; }
. "$root/tests/bench/lib.sh"
results=${RESULTS:-$root/tests/bench/dof-runs/b$BATCHES-recal$RECAL}
mkdir -p "$WORK/cfg" "$results"
threads=$(( 2 / JOBS > 0 ? 2 / JOBS : 1 ))
budget=(--set "net.max_batches=$BATCHES" --set "net.burn_in=$(( BATCHES / 10 ))")

# The networks: NAME KIND DOF CFG [--set ...]; KIND is rpg, plain or wN (a narrow network of width N);
# DOF is the total DoF the model summary prints.
nets=()
for dof in $DOFS; do
  d=$(total_dof "$root/cfg/fashion-resnet-rpg.cfg" --set "ring.global.dof=$dof")
  nets+=("rpg-$dof rpg $d $root/cfg/fashion-resnet-rpg.cfg --set ring.global.dof=$dof")
  narrowest_match "$d"
  nets+=("narrow-$dof w$best_width ${width_params[$best_width]} $(narrow_cfg "$best_width")")
done
nets+=("plain plain $(params "$root/cfg/fashion-resnet.cfg") $root/cfg/fashion-resnet.cfg")

# One training, the batch-norm recalibration and the evaluation. The result file is written last,
# so a rerun redoes only what did not finish; a finished training is kept (its log has the
# "trained" line) and only recalibrated and evaluated again, e.g. with another RECAL.
run_one() {  # NAME KIND DOF CFG [--set ...] SEED
  local name=$1 kind=$2 dof=$3 cfg=$4 seed=${!#}
  local sets=("${@:5:$(($# - 5))}")
  local result="$results/$name-s$seed.txt"
  [ -f "$result" ] && return 0
  local dir="$WORK/runs/$name-s$seed"
  local ckpt
  ckpt="$dir/$(basename "${cfg%.cfg}").ckpt"
  local seeds=(--set "net.seed=$seed")
  [ "$kind" = rpg ] && seeds+=(--set "ring.global.seed=$seed")
  local data="$dir/fashion.data"
  if ! { [ -f "$ckpt" ] && grep -q '^trained ' "$dir/train.log" 2>/dev/null; }; then
    rm -rf "$dir"
    data=$(make_data "$dir")
    "$rpgnet" classifier train "$data" "$cfg" "${sets[@]}" "${seeds[@]}" "${budget[@]}" --threads "$threads" \
      --quiet --checkpoint-every 0 > "$dir/train.log" 2>&1 || { cat "$dir/train.log" >&2; return 1; }
  fi
  local weights=$ckpt
  if [ "$RECAL" -gt 0 ]; then
    weights="$dir/recal$RECAL.ckpt"
    "$rpgnet" classifier recalibrate "$data" "$cfg" "$ckpt" -o "$weights" --bn-recalibrate "$RECAL" \
      "${sets[@]}" "${seeds[@]}" --threads "$threads" > "$dir/recal.log" 2>&1 || { cat "$dir/recal.log" >&2; return 1; }
  fi
  local acc
  acc=$(top1 "$data" "$cfg" "$weights" "${sets[@]}" "${seeds[@]}" --threads "$threads")
  [ -n "$acc" ] || { echo "dof_sweep.sh: $name seed $seed: no accuracy" >&2; return 1; }
  echo "$name $kind $dof $seed $acc" > "$result.new"
  mv "$result.new" "$result"
  echo "$name seed $seed: DoF $dof, top-1 $acc%" >&2
}

# JOBS runs at a time, in the order of nets.
run_jobs "$JOBS" "$SEEDS" run_one "${nets[@]}"

# Table, fit and plot.
cat "$results"/*.txt > "$WORK/all.txt"
awk -v dofs="$DOFS" -v batches="$BATCHES" -v seeds="$SEEDS" -v out_data="$WORK/plot.dat" '
  { n[$1]++; s[$1] += $5; ss[$1] += $5 * $5; d[$1] = $3; k[$1] = $2
    if (!($1 in lo) || $5 < lo[$1]) lo[$1] = $5
    if (!($1 in hi) || $5 > hi[$1]) hi[$1] = $5 }
  function mean(x) { return s[x] / n[x] }
  # Which is better, unless the means differ by less than the larger spread of the two.
  function verdict(r, q,   delta, spread) {
    delta = mean(r) - mean(q); spread = sd(r) > sd(q) ? sd(r) : sd(q)
    if (delta > spread) return "RPG better"
    if (-delta > spread) return "narrow better"
    return "no clear difference (within one sd)"
  }
  function sd(x) { return n[x] > 1 ? sqrt((ss[x] - s[x] * s[x] / n[x]) / (n[x] - 1)) : 0 }
  END {
    m = split(dofs, f, " ")
    printf "| DoF fraction | RPG total DoF | RPG top-1 %% (mean ± sd, min-max) | narrow width | narrow params | narrow top-1 %% | RPG - narrow (points) | verdict |\n"
    printf "|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= m; i++) {
      r = "rpg-" f[i]; q = "narrow-" f[i]
      if (!(r in n) || !(q in n)) continue
      printf "| %s | %d | %.2f ± %.2f (%.2f-%.2f) | %s | %d | %.2f ± %.2f (%.2f-%.2f) | %+.2f | %s |\n", \
        f[i], d[r], mean(r), sd(r), lo[r], hi[r], substr(k[q], 2), d[q], mean(q), sd(q), lo[q], hi[q], mean(r) - mean(q), verdict(r, q)
      x = log(d[r]) / log(10); y = mean(r); sx += x; sy += y; sxx += x * x; sxy += x * y; syy += y * y; np++
      print d[r], mean(r), sd(r), d[q], mean(q), sd(q) > out_data
    }
    if ("plain" in n) printf "| plain (all free) | %d | %.2f ± %.2f (%.2f-%.2f) | | | | | |\n", d["plain"], mean("plain"), sd("plain"), lo["plain"], hi["plain"]
    if (np >= 2) {
      b = (np * sxy - sx * sy) / (np * sxx - sx * sx); a = (sy - b * sx) / np
      sst = syy - sy * sy / np; sse = syy - a * sy - b * sxy  # least-squares residual sum
      printf "\nfit (RPG means): top-1 = %.3f + %.3f * log10(total DoF), R^2 = %.4f over %d points\n", a, b, (sst > 0 ? 1 - sse / sst : 1), np
      printf "fit %.6f %.6f\n", a, b > out_data ".fit"
    }
  }' "$WORK/all.txt" > "$WORK/table.md"

read -r _ fit_a fit_b < "$WORK/plot.dat.fit"
gnuplot <<EOF
set terminal pngcairo size 900,600 font ",11"
set output "$PLOT"
set logscale x
set xlabel "degrees of freedom (total trainable parameters)"
set ylabel "Fashion-MNIST test top-1 (%)"
set title "fashion-resnet: RPG ring vs narrower plain networks ($BATCHES updates of 128, BN recalibrated on $RECAL, seeds $SEEDS)"
set key bottom right
set grid
f(x) = $fit_a + $fit_b * log10(x)
plot "$WORK/plot.dat" using 1:2:3 with yerrorlines lw 2 title "RPG (one global ring), mean ± sd", \
     "$WORK/plot.dat" using 4:5:6 with yerrorlines lw 2 title "narrower plain network, same DoF", \
     f(x) with lines dt 2 title "least-squares fit to RPG", \
     "< grep '^plain ' $WORK/all.txt" using 3:5 with points pt 7 ps 1.5 title "plain fashion-resnet (each seed)"
EOF

{
  echo "# Accuracy against degrees of freedom (fashion-resnet on Fashion-MNIST)"
  echo
  echo "Produced by \`tests/bench/dof_sweep.sh\` on $(date -u +%Y-%m-%d) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))."
  echo "Every network: $BATCHES updates of 128 images (cosine schedule, the cfg's learning rate), seeds $SEEDS"
  echo "(net.seed, and the ring's seed for RPG); then the batch-norm running statistics recomputed from"
  echo "$RECAL batches of 128 training images with the weights fixed (\`rpgnet classifier recalibrate\`;"
  echo "0: not recomputed); top-1 on the 10,000 test images."
  echo "Narrow networks: fashion-resnet with w and 2w channels in place of 32 and 64."
  echo
  cat "$WORK/table.md"
  echo
  echo "![accuracy against DoF]($(basename "$PLOT"))"
} > "$OUT.new"
mv "$OUT.new" "$OUT"
cat "$OUT"
