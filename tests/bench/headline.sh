#!/usr/bin/env bash
# Issue 19's headline points and convergence, at the demo's budget (the cfgs' own: 3 epochs of
# 128 images, cosine schedule), SEEDS seeds each: the plain fashion-resnet, fashion-resnet-rpg at
# ring DoF 0.1 and 0.01, and for those two the same-DoF narrow networks (lib.sh). Every run logs
# its training loss every 10 updates and its test accuracy every EVERY updates (`classifier train
# --valid-every`). The report (OUT):
#   - mean, sd and range of the final test top-1 per network; RPG / plain, the paper's "x% of the
#     full model's performance", against the goals (>= 99% at dof 0.1, >= 95% at dof 0.01);
#   - RPG against the same-DoF narrow network: better beyond the larger seed spread, or not;
#   - convergence: the updates each network needs to reach an average training loss of LOSS_GOAL
#     and a test top-1 of ACC_GOAL (mean and range over the seeds; "not reached");
#   - PLOT: the average training loss against updates, RPG 0.1 and 0.01 against the plain
#     network (mean over the seeds), and the test accuracy points.
# Each finished run leaves its curve (a few KB of text: "loss U AVG" and "valid U TOP1" lines and
# "final TOP1") under RESULTS, in the repository: commit them as they finish; a rerun skips them,
# so the study can be run in pieces, from a fresh clone too.
#
# Usage (from the repository root, after `make`; gnuplot from `make bench-deps`):
#   tests/bench/headline.sh [BUILD_DIR]
# Environment: SEEDS (default "1 2 3"), EVERY (141: about 0.3 epoch), LOSS_GOAL (0.35), ACC_GOAL
# (88), JOBS (2 trainings at once, on 2/JOBS threads each), SETS (extra rpgnet options for every
# training, e.g. "--set net.epochs=0 --set net.max_batches=30" for a quick check), RESULTS
# (tests/bench/headline-runs), OUT (tests/bench/HEADLINE.md), PLOT (tests/bench/convergence.png),
# WORK (/tmp/rpgnet-headline).
set -euo pipefail
build=build
[ $# -gt 0 ] && { build=$1; shift; }
SEEDS=${SEEDS:-"1 2 3"}
EVERY=${EVERY:-141}
LOSS_GOAL=${LOSS_GOAL:-0.35}
ACC_GOAL=${ACC_GOAL:-88}
JOBS=${JOBS:-2}
SETS=${SETS:-}
OUT=${OUT:-tests/bench/HEADLINE.md}
PLOT=${PLOT:-tests/bench/convergence.png}
WORK=${WORK:-/tmp/rpgnet-headline}
root=$(pwd)
rpgnet="$root/$build/rpgnet"
results=${RESULTS:-$root/tests/bench/headline-runs}
[ -x "$rpgnet" ] || { echo "headline.sh: $rpgnet not built (run make)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "headline.sh: gnuplot not found (make bench-deps installs it)" >&2; exit 1; }
. "$root/tests/bench/lib.sh"
mkdir -p "$results"
threads=$(( 2 / JOBS > 0 ? 2 / JOBS : 1 ))
# shellcheck disable=SC2206
extra=($SETS)

rpg_cfg="$root/cfg/fashion-resnet-rpg.cfg"
nets=("plain $root/cfg/fashion-resnet.cfg")
for dof in 0.1 0.01; do
  nets+=("rpg-$dof $rpg_cfg --set ring.global.dof=$dof")
  narrowest_match "$(total_dof "$rpg_cfg" --set "ring.global.dof=$dof")"
  nets+=("narrow-$dof $(narrow_cfg "$best_width")")
done

run_one() {  # NAME CFG [--set ...] SEED
  local name=$1 cfg=$2 seed=${!#}
  local sets=("${@:3:$(($# - 3))}")
  local result="$results/$name-s$seed.txt"
  [ -f "$result" ] && return 0
  local dir="$WORK/runs/$name-s$seed"
  rm -rf "$dir"
  local data seeds=(--set "net.seed=$seed")
  data=$(make_data "$dir")
  case $name in rpg-*) seeds+=(--set "ring.global.seed=$seed") ;; esac
  "$rpgnet" classifier train "$data" "$cfg" "${sets[@]}" "${seeds[@]}" "${extra[@]}" --threads "$threads" \
    --report-every 10 --valid-every "$EVERY" --checkpoint-every 0 > "$dir/train.log" 2>&1 ||
    { cat "$dir/train.log" >&2; return 1; }
  awk '/^ *[0-9]+\/[0-9]+  epoch/ { split($1, u, "/"); print "loss", u[1], $7 }
       /^valid at update/ { sub(":", "", $4); sub("%", "", $6); print "valid", $4, $6 }
       /^valid: top-1/ { sub("%", "", $3); print "final", $3 }' "$dir/train.log" > "$result.new"
  grep -q '^final ' "$result.new" || { echo "headline.sh: $name seed $seed: no final accuracy" >&2; return 1; }
  mv "$result.new" "$result"
  echo "$name seed $seed: top-1 $(sed -n 's/^final //p' "$result")%" >&2
}

run_jobs "$JOBS" "$SEEDS" run_one "${nets[@]}"

# One table line per network: final accuracy, and the updates to the two goals per seed.
for f in "$results"/*.txt; do
  b=$(basename "$f" .txt)
  awk -v net="${b%-s*}" -v lg="$LOSS_GOAL" -v ag="$ACC_GOAL" '
    $1 == "loss" && !l && $3 <= lg { l = $2 }
    $1 == "valid" && !a && $3 >= ag { a = $2 }
    $1 == "final" { fin = $2 }
    END { print net, fin, (l ? l : "-"), (a ? a : "-") }' "$f"
done > "$WORK/runs.txt"
awk -v lg="$LOSS_GOAL" -v ag="$ACC_GOAL" '
  { n[$1]++; s[$1] += $2; ss[$1] += $2 * $2
    if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2
    if (!($1 in hi) || $2 > hi[$1]) hi[$1] = $2
    steps[$1] = steps[$1] " " $3; acc[$1] = acc[$1] " " $4 }
  function mean(x) { return s[x] / n[x] }
  function sd(x) { return n[x] > 1 ? sqrt((ss[x] - s[x] * s[x] / n[x]) / (n[x] - 1)) : 0 }
  function verdict(r, q,   d, sp) {
    if (n[r] < 2 || n[q] < 2) return "no verdict (one seed: no spread to compare with)"
    d = mean(r) - mean(q); sp = sd(r) > sd(q) ? sd(r) : sd(q)
    return d > sp ? "RPG better" : (-d > sp ? "narrow better" : "no clear difference (within one sd)")
  }
  END {
    printf "| network | runs | test top-1 %% (mean ± sd, min-max) | of plain | updates to avg loss <= %s | updates to top-1 >= %s%% |\n", lg, ag
    printf "|---|---|---|---|---|---|\n"
    split("plain rpg-0.1 narrow-0.1 rpg-0.01 narrow-0.01", order, " ")
    for (i = 1; i <= 5; i++) {
      x = order[i]
      if (!(x in n)) continue
      printf "| %s | %d | %.2f ± %.2f (%.2f-%.2f) | %s | %s | %s |\n", x, n[x], mean(x), sd(x), lo[x], hi[x],
        ("plain" in n) ? sprintf("%.1f%%", 100 * mean(x) / mean("plain")) : "?", steps[x], acc[x]
    }
    printf "\n"
    split("0.1 99 0.01 95", g, " ")
    for (i = 1; i <= 3; i += 2) {
      r = "rpg-" g[i]; q = "narrow-" g[i]
      if ((r in n) && ("plain" in n))
        printf "- RPG at dof %s: %.1f%% of the plain network'"'"'s accuracy: %s the %s%% goal.\n", g[i],
          100 * mean(r) / mean("plain"), (100 * mean(r) / mean("plain") >= g[i + 1] ? "meets" : "misses"), g[i + 1]
      if ((r in n) && (q in n))
        printf "- RPG at dof %s against the same-DoF narrow network: %+.2f points, %s.\n", g[i], mean(r) - mean(q), verdict(r, q)
    }
  }' "$WORK/runs.txt" > "$WORK/table.md"

# The mean loss curve of a network over its seeds: update, mean average loss.
curve() {
  cat "$results/$1"-s*.txt 2>/dev/null | awk '$1 == "loss" { s[$2] += $3; n[$2]++ }
    END { for (u in s) print u, s[u] / n[u] }' | sort -n > "$WORK/$1.curve"
}
for x in plain rpg-0.1 rpg-0.01; do curve "$x"; done
gnuplot <<EOF
set terminal pngcairo size 900,600 font ",11"
set output "$PLOT"
set xlabel "update (batch 128)"
set ylabel "average training loss (mean over seeds $SEEDS)"
set title "fashion-resnet: convergence of RPG against the plain network"
set key top right
set grid
plot "$WORK/plain.curve" with lines lw 2 title "plain (all parameters free)", \
     "$WORK/rpg-0.1.curve" with lines lw 2 title "RPG, ring dof 0.1", \
     "$WORK/rpg-0.01.curve" with lines lw 2 title "RPG, ring dof 0.01"
EOF

{
  echo "# The headline points and convergence (fashion-resnet on Fashion-MNIST, issue 19)"
  echo
  echo "Produced by \`tests/bench/headline.sh\` on $(date -u +%Y-%m-%d) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))."
  echo "Every network: the cfg's budget (3 epochs of 128 images, cosine schedule${SETS:+; options: $SETS}), seeds $SEEDS;"
  echo "test top-1 on the 10,000 test images at the end and every $EVERY updates. Narrow networks:"
  echo "fashion-resnet with w and 2w channels, w chosen so that the parameter count is closest to the"
  echo "RPG network's total DoF. The update columns list each seed's first update at the goal (-: not reached)."
  echo
  cat "$WORK/table.md"
  echo
  echo "![convergence]($(basename "$PLOT"))"
} > "$OUT.new"
mv "$OUT.new" "$OUT"
cat "$OUT"
