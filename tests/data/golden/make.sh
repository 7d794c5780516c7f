#!/usr/bin/env bash
# Writes the golden files of this folder with today's rpgnet (run once, then commit; test_golden
# checks that every later build still loads them): a checkpoint of a tiny RPG network trained 6
# updates on a synthetic data set, its exports at 32, 8 and 4 bits (the 4-bit one also as an
# expanded Darknet .weights with its ring-free cfg), then crafted files (make_crafted.py).
# Usage: tests/data/golden/make.sh path/to/rpgnet   (from the repository root)
set -euo pipefail
bin=$(realpath "${1:?usage: $0 path/to/rpgnet}")
here=$(realpath "$(dirname "$0")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import random, struct, sys
rng = random.Random(11)
with open(sys.argv[1] + "/i", "wb") as f, open(sys.argv[1] + "/l", "wb") as g:
    f.write(struct.pack(">IIII", 0x803, 48, 6, 6)); g.write(struct.pack(">II", 0x801, 48))
    for n in range(48):
        f.write(bytes(rng.randrange(256) for _ in range(36))); g.write(bytes([n % 3]))
PY
printf 'a\nb\nc\n' >"$tmp/names"
printf 'classes = 3\ntrain = idx:i,l\nvalid = idx:i,l\nnames = names\nbackup = out\n' >"$tmp/t.data"
cp "$here/tiny.cfg" "$tmp/tiny.cfg"
(cd "$tmp" && "$bin" classifier train t.data tiny.cfg --quiet --threads 1 --set net.max_batches=6)
cp "$tmp/out/tiny.ckpt" "$here/tiny.ckpt"
cd "$here"
"$bin" export tiny.cfg tiny.ckpt -o tiny-32.rpgm --threads 1
"$bin" export tiny.cfg tiny.ckpt -o tiny-8.rpgm --bits 8 --threads 1
"$bin" export tiny.cfg tiny.ckpt -o tiny-4.rpgm --bits 4 --threads 1 --darknet tiny-4.weights --darknet-cfg tiny-plain.cfg
python3 "$here/make_crafted.py" "$here"
