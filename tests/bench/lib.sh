# Shared by the accuracy scripts in tests/bench (export_table.sh, int8.sh, dof_sweep.sh, headline.sh);
# source it after setting root (the repository root), rpgnet (the command) and, for the
# network helpers, WORK (a scratch folder).

# The arguments of export_table.sh and int8.sh: [BUILD_DIR] [--set SECTION.KEY=VALUE ...]. Sets
# build (default build) and train_sets (the --set options, for training); $1 names the script in
# messages. Needs nothing else set.
bench_args() {
  local script=$1
  shift
  build=build
  if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
  train_sets=()
  while [ $# -gt 0 ]; do
    case $1 in
      --set) train_sets+=(--set "$2"); shift 2 ;;
      --set=*) train_sets+=(--set "${1#--set=}"); shift ;;
      *) echo "$script: unknown argument '$1'" >&2; exit 2 ;;
    esac
  done
}

# A .data file like cfg/fashion.data whose checkpoints go to folder $1; prints its path.
make_data() {
  mkdir -p "$1"
  sed -e "s#^labels.*#labels = $root/cfg/fashion.names#" -e "s#^backup.*#backup = $1#" \
    "$root/cfg/fashion.data" > "$1/fashion.data"
  echo "$1/fashion.data"
}

# top1 DATA CFG WEIGHTS [rpgnet options...]: Fashion-MNIST test top-1 in percent.
top1() {
  local data=$1 cfg=$2 weights=$3
  shift 3
  "$rpgnet" classifier valid "$data" "$cfg" "$weights" "$@" | sed -n 's/^top-1 \([0-9.]*\)%.*/\1/p'
}

# The networks of the DoF studies. total_dof CFG [--set ...]: the total DoF `rpgnet info` prints;
# params CFG: the parameter count; narrow_cfg W: fashion-resnet with W and 2W channels in place of
# 32 and 64 (written once under $WORK/cfg), its path; narrowest_match DOF: sets best_width to the
# width whose parameter count is closest to DOF (on a log scale), of 1..32, and width_params[W]
# to each width's parameter count (call it in the shell itself, not in $(...)).
total_dof() { "$rpgnet" info "$@" | sed -n 's/^total DoF: \([0-9,]*\).*/\1/p' | tr -d ,; }
params() { "$rpgnet" info "$1" | sed -n 's/^parameters: \([0-9,]*\).*/\1/p' | tr -d ,; }
narrow_cfg() {
  local f="$WORK/cfg/narrow-w$1.cfg"
  mkdir -p "$WORK/cfg"
  [ -f "$f" ] || sed -e "s/^filters=32$/filters=$1/" -e "s/^filters=64$/filters=$(( 2 * $1 ))/" \
    "$root/cfg/fashion-resnet.cfg" > "$f"
  echo "$f"
}
declare -A width_params
narrowest_match() {
  local w
  best_width=1
  for w in $(seq 1 32); do
    [ -n "${width_params[$w]:-}" ] || width_params[$w]=$(params "$(narrow_cfg "$w")")
    if awk -v a="${width_params[$w]}" -v b="${width_params[$best_width]}" -v d="$1" \
      'BEGIN { exit !((log(a / d))^2 < (log(b / d))^2) }'; then best_width=$w; fi
  done
}

# run_jobs JOBS SEEDS FUNCTION NET...: runs FUNCTION with the words of NET and a seed, for every
# NET (one string of words each) and every seed of SEEDS, JOBS at a time, in that order; fails
# (after all have ended) when one failed.
run_jobs() {
  local jobs=$1 seeds=$2 fn=$3 net seed p rc=0
  shift 3
  local pids=()
  for net in "$@"; do
    for seed in $seeds; do
      # shellcheck disable=SC2086
      "$fn" $net "$seed" &
      pids+=($!)
      if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}" || rc=1; pids=("${pids[@]:1}"); fi
    done
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}
