#!/usr/bin/env bash
# Runs the CUDA suite (tests/test_cuda.cc) on a machine without a GPU: the CUDA backend's own
# sources (cuda/*.cu), launches rewritten by rewrite.py, compiled as C++ under AddressSanitizer
# against emulated CUDA and cuBLAS headers (cuda_emu.h), compared with the CPU backend as on a
# real device. It checks index arithmetic, bounds, cuBLAS argument conventions, reductions and
# warp shuffles; it cannot see data races or the device's rounding (tests/gpu/run_gpu_checks.sh
# on a real GPU does). Part of `make test` (tests/run_tests.sh; about 2 minutes on 2 cores).
#   usage: tests/gpu/emulate/run.sh [Boost.Test arguments, e.g. --run_test=convolutions]
set -euo pipefail
cd "$(dirname "$0")/../../.."
emu=tests/gpu/emulate
out=build/emu
mkdir -p "$out/src" "$out/obj"
make --no-print-directory lib >/dev/null
flags=(-std=c++17 -O1 -g -fsanitize=address -fno-omit-frame-pointer -DRPG_GPU "-I$emu" -Icuda -Isrc -Icapi
       -Itests -isystem /usr/include/stb -DBOOST_TEST_DYN_LINK -Wall -Wextra -Wno-unused-parameter)
rm -f "$out"/obj/*.o
compile() {  # source object: in the background, at most two compilers at a time
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  g++ "${flags[@]}" -x c++ -c "$1" -o "$2" &
}
for f in cuda/*.cu; do
  b=$(basename "$f" .cu)
  python3 "$emu/rewrite.py" "$f" > "$out/src/$b.cc"
  compile "$out/src/$b.cc" "$out/obj/$b.o"
done
compile "$emu/emu.cc" "$out/obj/emu.o"
compile src/backend/factory.cc "$out/obj/factory.o"
compile tests/test_cuda.cc "$out/obj/test_cuda.o"
wait
for o in $(basename -s .cu cuda/*.cu) emu factory test_cuda; do
  [ -f "$out/obj/$o.o" ] || { echo "emulate: $o did not compile" >&2; exit 1; }
done
g++ -fsanitize=address -o "$out/test_cuda" "$out"/obj/*.o build/librpgnet.a -ldnnl -lopenblas -lstb -lz -lpthread -fopenmp \
  -lboost_unit_test_framework
# ASan warns once that it does not fully support swapcontext; the fibers are its only use.
ASAN_OPTIONS=detect_leaks=0 "$out/test_cuda" --report_level=short --log_level=test_suite --color_output=false "$@" 2>&1 |
  grep -v "swapcontext"
exit "${PIPESTATUS[0]}"
