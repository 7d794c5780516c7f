#!/usr/bin/env bash
# Mutation audit: plants each known bug in a temporary copy of the tree, builds what the tests
# need, runs the tests that should catch it and expects them to FAIL. Prints a table (markdown)
# and exits 0 only when every mutation was planted and caught.
# Usage: tests/mutation/run.sh [NAME...]   (run from the repository root; default: all)
# The copy takes the working tree's tracked and untracked files (git ls-files), and the CPU
# build in build/ when there is one, so that only what a mutation touches is rebuilt. make -j2.
set -u
root=$(pwd)
[ -f tests/mutation/run.sh ] || { echo "run from the repository root" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name | file | sed expression | make targets | test command (run in the copy)
mutations=(
  "chunk|src/backend/cpu_backend.cc|s/for (int c = 0; c < chunks; ++c) s += partials/for (int c = 0; c < 1; ++c) s += partials/|build/tests/test_layers|build/tests/test_layers"
  "connected-1.008|src/layers/connected.cc|s/be.gemm(true, false, outputs, inputs, s.batch, 1.f,/be.gemm(true, false, outputs, inputs, s.batch, 1.008f,/|build/tests/test_layers|build/tests/test_layers"
  "conv-1.008|src/backend/cpu_backend.cc|s/    weight_grads\[i\] += s;/    weight_grads[i] += 1.008f * s;/|build/tests/test_layers|build/tests/test_layers"
  "selu-alpha|src/backend/activation.h|s/1\.6732f/1.6832f/g|build/tests/test_network build/tests/test_layers|build/tests/test_network --run_test=activation_values_from_their_definitions,reference && build/tests/test_layers --run_test=every_activation,connected_variants"
  "export-size|src/io/export.cc|s/  return ring + unshared_bytes + 4096;/  return (ring + unshared_bytes + 4096) \/ 64;/|build/rpgnet|bash tests/cli/export.sh build/rpgnet"
)

want=("$@")
rows=()
status=0
for m in "${mutations[@]}"; do
  IFS='|' read -r name file expr targets cmd <<<"$m"
  if [ ${#want[@]} -gt 0 ] && [[ " ${want[*]} " != *" $name "* ]]; then continue; fi
  copy="$work/$name"
  mkdir -p "$copy"
  git ls-files -co --exclude-standard -z | (cd "$root" && xargs -0 cp --parents -a -t "$copy") || { echo "copy failed" >&2; exit 2; }
  # The CPU build only (objects keep their times, so only what the mutation touches is rebuilt).
  [ -d build ] && tar -C "$root" -cf - --exclude=build/san --exclude=build/tsan --exclude=build/gpu \
    --exclude=build/emu --exclude=build/bindings --exclude=build/install build | tar -C "$copy" -xf -
  before=$(md5sum "$copy/$file")
  sed -i "$expr" "$copy/$file"
  if [ "$(md5sum "$copy/$file")" = "$before" ]; then
    rows+=("| $name | \`$file\` | NOT PLANTED (the pattern no longer matches) | - |")
    status=1
    rm -rf "$copy"
    continue
  fi
  echo "=== $name: $(diff <(cd "$root" && cat "$file") "$copy/$file" | grep '^>' | head -3)"
  if ! (cd "$copy" && make -j2 --no-print-directory $targets >"$copy/build.log" 2>&1); then
    rows+=("| $name | \`$file\` | BUILD FAILED | - |")
    tail -20 "$copy/build.log"
    status=1
    rm -rf "$copy"
    continue
  fi
  start=$SECONDS
  (cd "$copy" && timeout 1200 bash -c "$cmd") >"$work/$name.log" 2>&1
  rc=$?
  secs=$((SECONDS - start))
  evidence=$(grep -m1 -E 'error: in|FAIL:|failed with' "$work/$name.log" | sed 's/\x1b\[[0-9;]*m//g; s/|/\\|/g' | cut -c1-150)
  if [ $rc -ne 0 ]; then
    rows+=("| $name | \`$file\` | caught (exit $rc, ${secs} s) | $evidence |")
  else
    rows+=("| $name | \`$file\` | NOT CAUGHT: the tests passed | - |")
    status=1
  fi
  rm -rf "$copy"
done

echo
echo "| mutation | file | result | first failure reported |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
