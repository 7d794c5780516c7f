# Shared by the accuracy scripts in tests/bench (export_table.sh, dof_sweep.sh); source it after
# setting root (the repository root) and rpgnet (the command).

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
