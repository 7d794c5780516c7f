#!/usr/bin/env bash
# `rpgnet export`, `rpgnet info model.rpgm`, `classifier valid` on a .rpgm and `classifier train
# --prune`, on a small synthetic IDX data set (8x8, 3 classes) and a tiny RPG cfg:
#  a. a float32 export validates exactly as its checkpoint (same top-1 and loss);
#  b. a 4-bit, 50%-pruned, fp16 export: info shows what it holds; its expanded Darknet .weights
#     on the ring-free cfg (--darknet, --darknet-cfg) validates exactly as the .rpgm;
#  c. pruned fine-tuning prints how many entries it froze, and exporting the result with the same
#     fraction prunes exactly those;
#  d. errors: another architecture, a corrupt file, usage mistakes;
#  e. int8 (--int8 --data --calibrate): info says what it holds and which layers run int8 on which
#     oneDNN kernel; valid runs int8 (and float32 with --fp32); calibration is deterministic
#     (the same file twice); usage mistakes.
# Usage: tests/cli/export.sh path/to/rpgnet. Prints PASS/FAIL lines; exits 0 only when all pass.
set -u
bin=${1:?usage: $0 path/to/rpgnet}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
python=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }
[ -x "$python" ] || { echo "FAIL: $python is missing (needed to write the IDX files)"; exit 1; }

"$python" "$(dirname "$0")/lines_data.py" "$tmp" 5 train:200 valid:60 || { echo "FAIL: cannot write the IDX data set"; exit 1; }
printf 'classes = 3\ntrain = idx:train-images,train-labels\nvalid = idx:valid-images,valid-labels\nnames = names\nbackup = backup\n' >"$tmp/t.data"
printf 'classes = 3\ntrain = idx:train-images,train-labels\nvalid = idx:valid-images,valid-labels\nnames = names\nbackup = ft\n' >"$tmp/ft.data"
cat >"$tmp/tiny.cfg" <<'EOF'
[net]
batch=16
width=8
height=8
channels=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=30
flip=0

[ring]
name=shared
dof=0.5

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky
ring=shared

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky
ring=shared

[connected]
output=3
activation=linear

[softmax]
EOF
sed 's/filters=4/filters=5/' "$tmp/tiny.cfg" >"$tmp/other.cfg"
cd "$tmp" || exit 1
r() { "$bin" "$@" --threads 1; }

check "train 30 updates" r classifier train t.data tiny.cfg --quiet
ckpt=backup/tiny.ckpt
v_ckpt=$(r classifier valid t.data tiny.cfg "$ckpt" | cut -d'(' -f1)

# a. float32
check "export float32" r export tiny.cfg "$ckpt" -o m32.rpgm
v32=$(r classifier valid t.data tiny.cfg m32.rpgm | cut -d'(' -f1)
check "float32 export validates as the checkpoint ($v_ckpt)" [ -n "$v32" -a "$v32" = "$v_ckpt" ]

# b. 4 bits, pruned, fp16, expanded weights
check "export 4 bits, 50% pruned, fp16, darknet" \
  r export tiny.cfg "$ckpt" -o m4.rpgm --bits 4 --prune 0.5 --unshared fp16 --darknet m4.weights --darknet-cfg plain.cfg
info=$(r info m4.rpgm)
check "info: version" grep -q "export version 2" <<<"$info"
check "info: ring, bits, kept" grep -q "ring 'shared': K 90,.*4 bits.*kept 50.0% (45 pruned" <<<"$info"
check "info: unshared as float16" grep -q "as float16" <<<"$info"
check "info: layer table of the embedded cfg" grep -q "convolutional" <<<"$info"
check "the ring-free cfg has no ring" bash -c "! grep -qE '^\[ring\]|^ring=' plain.cfg"
v4=$(r classifier valid t.data tiny.cfg m4.rpgm | cut -d'(' -f1)
vw=$(r classifier valid t.data plain.cfg m4.weights | cut -d'(' -f1)
check "expanded .weights validate as the .rpgm ($v4)" [ -n "$v4" -a "$v4" = "$vw" ]
size=$(stat -c %s m4.rpgm)
bound=$(sed -n 's/.*the format.s bound: .* = \([0-9,]*\)).*/\1/p' <<<"$info" | tr -d ,)
within_bound() { [ -n "$bound" ] && [ -n "$size" ] && [ "$size" -le "$bound" ]; }
check "size $size within the bound $bound" within_bound

# c. pruned fine-tuning keeps the mask
out=$(r classifier train ft.data tiny.cfg "$ckpt" -clear --prune 0.5 --set net.max_batches=10 --quiet)
check "fine-tuning froze 45 of 90 entries" grep -q "pruned 45 of 90 ring entries" <<<"$out"
check "export the fine-tuned model" r export tiny.cfg ft/tiny.ckpt -o ft.rpgm --prune 0.5
check "the same 45 entries are pruned" grep -q "kept 50.0% (45 pruned" <<<"$(r info ft.rpgm)"
out=$(r classifier train ft.data tiny.cfg ft/tiny.ckpt --prune 0.5 --set net.max_batches=12 --quiet)
check "resuming finds the same mask" grep -q "pruned 45 of 90" <<<"$out"

# d. errors
# status, expected message, command...: the command exits with the status and prints the message.
fails_with() {
  local want=$1 message=$2 err rc
  shift 2
  err=$("$@" 2>&1); rc=$?
  [ "$rc" -eq "$want" ] && grep -qF -- "$message" <<<"$err"
}
check "another architecture: exit 1 naming the file" \
  fails_with 1 "m32.rpgm: exported from another architecture" r classifier valid t.data other.cfg m32.rpgm
cp m32.rpgm bad.rpgm && printf '\x55' | dd of=bad.rpgm bs=1 seek=300 conv=notrunc 2>/dev/null
check "corrupt file: exit 1 naming the file" fails_with 1 "bad.rpgm: checksum mismatch" r info bad.rpgm
head -c 200 m32.rpgm >short.rpgm
check "truncated file: exit 1 naming the file" fails_with 1 "short.rpgm: truncated" r classifier valid t.data tiny.cfg short.rpgm
r export tiny.cfg "$ckpt" >/dev/null 2>&1; rc=$?
check "export without -o: usage, exit 2" [ $rc -eq 2 ]
r export tiny.cfg "$ckpt" -o x.rpgm --bits 20 >/dev/null 2>&1; rc=$?
check "--bits 20: usage, exit 2" [ $rc -eq 2 ]
r export tiny.cfg "$ckpt" -o x.rpgm --prune 1.5 >/dev/null 2>&1; rc=$?
check "--prune 1.5: usage, exit 2" [ $rc -eq 2 ]

# e. int8
check "export --int8 calibrated on 2 batches" r export tiny.cfg "$ckpt" -o m8.rpgm --int8 --data t.data --calibrate 2
info=$(r info m8.rpgm)
check "info: int8, one scale per ring, the calibration" \
  grep -q "int8: one 8-bit scale per ring; activations calibrated (min/max per tensor) on 2 batches of 16 images" <<<"$info"
check "info: the ring at 8 bits with one scale" grep -q "ring 'shared': K 90,.*8 bits, scale every 90 entries" <<<"$info"
check "info: a layer runs int8 on oneDNN's kernel" grep -qE "layer 1 convolutional: int8 \(.*(jit|brg)[a-z0-9_]*:" <<<"$info"
out=$(r classifier valid t.data tiny.cfg m8.rpgm)
check "valid runs int8" grep -qE "^int8: [1-9][0-9]* layers run in int8" <<<"$out"
check "valid prints top-1" grep -q "^top-1 " <<<"$out"
out=$(r classifier valid t.data tiny.cfg m8.rpgm --fp32)
no_int8_line() { ! grep -q "^int8:" <<<"$out" && grep -q "^top-1 " <<<"$out"; }
check "valid --fp32 runs float32" no_int8_line
check "export --int8 again" r export tiny.cfg "$ckpt" -o m8b.rpgm --int8 --data t.data --calibrate 2
check "calibration is deterministic: the same bytes" cmp -s m8.rpgm m8b.rpgm
check "--int8 without --data: usage" fails_with 2 "needs --data" r export tiny.cfg "$ckpt" -o x.rpgm --int8
check "--int8 --bits 4: usage" fails_with 2 "--bits must be 8" r export tiny.cfg "$ckpt" -o x.rpgm --int8 --bits 4 --data t.data
check "--calibrate without --int8: usage" fails_with 2 "go with export --int8" r export tiny.cfg "$ckpt" -o x.rpgm --calibrate 3

echo "export: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
