#!/usr/bin/env bash
# The library and command compile under clang too (what `make fuzz` builds them with: libFuzzer
# is clang's): every .cc of src/ and capi/ through clang++'s front end, with OpenMP, without
# code generation. GCC builds everything else, so this is where clang-only errors show (twice
# before: lambdas in OpenMP loops that clang's outlining rejects).
# Usage: tests/cli/clang_syntax.sh [ignored]   (run from the repository root)
# Prints "SKIPPED: ..." where clang++ or its OpenMP header is missing (`make fuzz` installs them).
set -u
if ! command -v clang++ >/dev/null; then
  echo "SKIPPED: clang++ is not installed (make fuzz installs clang and libomp-dev)"
  exit 0
fi
if ! echo '#include <omp.h>' | clang++ -fopenmp -x c++ -fsyntax-only - 2>/dev/null; then
  echo "SKIPPED: clang++ has no OpenMP header (make fuzz installs libomp-dev)"
  exit 0
fi
# MPI's header only where MPI is installed (as the Makefile: mpi_comm.cc, else mpi_none.cc).
mpi_flags=() skip=src/train/mpi_comm.cc
if command -v mpicc >/dev/null; then
  read -r -a mpi_flags <<<"$(mpicc --showme:compile) -DOMPI_SKIP_MPICXX=1 -DMPICH_SKIP_MPICXX=1"
  skip=src/train/mpi_none.cc
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() {  # file index: writes $tmp/index.ok or $tmp/index.fail (the file's name and errors)
  if clang++ -std=c++17 -fopenmp -fsyntax-only -Wall -Wextra -Isrc -Icapi -isystem /usr/include/stb "${mpi_flags[@]}" "$1" \
       >"$tmp/$2.err" 2>&1; then
    touch "$tmp/$2.ok"
  else
    { echo "FAIL: $1"; sed 's/^/  /' "$tmp/$2.err"; } >"$tmp/$2.fail"
  fi
}
i=0
for f in $(find src capi -name '*.cc' | sort); do
  [ "$f" = "$skip" ] && continue
  check "$f" "$i" &
  i=$((i + 1))
  [ $((i % 2)) -eq 0 ] && wait  # two at a time
done
wait
cat "$tmp"/*.fail 2>/dev/null
passed=$(find "$tmp" -name '*.ok' | wc -l)
failed=$(find "$tmp" -name '*.fail' | wc -l)
echo "clang_syntax: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -eq "$i" ]
