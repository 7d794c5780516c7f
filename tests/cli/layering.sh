#!/usr/bin/env bash
# The code's floors (README, "Layers of the code"): every #include "folder/..." of a library file
# must name its own folder or one listed below it here, so that the include graph stays the
# documented one. Also: only backend/factory.* and the backends name CpuBackend / CudaBackend,
# and the generator's constants have one definition.
# Usage: tests/cli/layering.sh [ignored]   (run from the repository root)
# Prints a line per violation, then "layering: N files checked"; exits 0 only when none.
set -u
failures=0
checked=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# What each folder may include besides itself (the README's table, bottom to top).
allowed() {
  case $1 in
    src/base)    echo "" ;;
    src/cfg)     echo "base" ;;
    src/backend) echo "base" ;;
    src/layers)  echo "base cfg backend" ;;
    src/rpg)     echo "base cfg backend layers" ;;
    src/core)    echo "base cfg backend layers rpg" ;;
    src/data)    echo "base cfg" ;;
    src/io)      echo "base cfg backend layers rpg core" ;;
    src/train)   echo "base cfg backend layers rpg core data io" ;;
    src/cli)     echo "base cfg backend layers rpg core data io train" ;;
    capi)        echo "base cfg backend layers rpg core data io train" ;;
    cuda)        echo "base backend" ;;
    *)           echo "?" ;;
  esac
}

# Checks every library file under the folder $1 (the repository root, or a probe tree).
scan_includes() {
  local root=$1 f dir ok own inc folder
  for f in $(cd "$root" && find src capi cuda -name '*.h' -o -name '*.cc' -o -name '*.cu' -o -name '*.cuh' 2>/dev/null | sort); do
    dir=$(dirname "$f")
    ok=$(allowed "$dir")
    if [ "$ok" = "?" ]; then
      fail "$f: folder $dir is not in the layering table (tests/cli/layering.sh, README)"
      continue
    fi
    checked=$((checked + 1))
    own=$(basename "$dir")
    while IFS= read -r inc; do
      [ -n "$inc" ] || continue
      folder=${inc%%/*}
      [ "$folder" = "$own" ] && continue
      case " $ok " in *" $folder "*) ;; *) fail "$f includes \"$inc\": $dir may include only: ${ok:-(nothing)}" ;; esac
    done < <(grep -oE '^#include "[a-z_]+/[^"]+"' "$root/$f" | sed -E 's/^#include "([^"]+)"/\1/')
  done
}

# Self-test first: the scan must report a layers/ file that includes core/network.h.
probe=$(mktemp -d)
mkdir -p "$probe/src/layers"
printf '#include "core/network.h"\n' >"$probe/src/layers/probe.cc"
scan_includes "$probe" >/dev/null
rm -rf "$probe"
if [ "$failures" -eq 1 ]; then
  failures=0; checked=0
else
  echo "FAIL: self-test: a src/layers file including core/network.h was not reported"
  exit 1
fi

scan_includes .

# Backends are chosen in one place: the factory.
while IFS= read -r f; do
  case $f in
    src/backend/factory.*|src/backend/cpu_backend.*|cuda/*) ;;
    *) fail "$f names CpuBackend or CudaBackend: only backend/factory and the backends may" ;;
  esac
done < <(grep -rlE '\b(CpuBackend|CudaBackend)\b' src capi cuda)

# One home for the generator's constants and the default ring name.
n=$(grep -rhoE '0x3c6ef372fe94f82b' src capi cuda | wc -l)
[ "$n" -eq 1 ] || fail "the ring value stream constant 0x3c6ef372fe94f82b appears $n times in src, capi, cuda (expected 1)"
n=$(grep -rhoE '"ring0"' src capi cuda | wc -l)
[ "$n" -eq 1 ] || fail "the default ring name \"ring0\" is written $n times in src, capi, cuda (expected 1: kDefaultRingName)"

echo "layering: $checked files checked, $failures violations"
echo "layering: $((checked - failures < 0 ? 0 : checked - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
