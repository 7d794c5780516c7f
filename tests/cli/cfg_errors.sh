#!/usr/bin/env bash
# `rpgnet info` on every malformed cfg of tests/cfg_bad: exit status 1 (not 0, not a crash), and
# on stderr "rpgnet: error:" with the message each file announces in its leading "# expect: "
# lines. Also: a missing file exits 1 naming it, and a good cfg exits 0.
# Usage: tests/cli/cfg_errors.sh path/to/rpgnet   (run from the repository root)
# Prints one line per failure; exits 0 only when every check passed.
set -u
bin=${1:?usage: $0 path/to/rpgnet}
corpus=tests/cfg_bad
failures=0
checked=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

run_info() {  # file -> $rc, stderr in $tmp/err, stdout in $tmp/out
  local t=()
  command -v timeout >/dev/null && t=(timeout 60)
  "${t[@]}" "$bin" info "$1" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

# The expected substrings of a corpus file, one a line. The files that cannot carry a comment
# line have theirs here (as in tests/test_cfg.cc).
expectations() {
  case "$(basename "$1")" in
    empty.cfg) echo "empty.cfg: empty cfg: no sections found" ;;
    binary_garbage.cfg) echo "binary_garbage.cfg:1: unexpected control character 0x7f" ;;
    *)  # a BOM and CR or CRLF line ends are allowed around them
      head -c 4096 "$1" | tr '\r' '\n' | sed -e '1s/^\xEF\xBB\xBF//' -e '/^$/d' |
        awk '/^# expect: / { print substr($0, 11); next } { exit }' ;;
  esac
}

[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }
[ -d "$corpus" ] || { echo "FAIL: no $corpus folder (run from the repository root)"; exit 1; }

for f in "$corpus"/*.cfg; do
  [ -f "$f" ] || continue
  checked=$((checked + 1))
  mapfile -t expect < <(expectations "$f")
  if [ ${#expect[@]} -eq 0 ]; then
    fail "$f: no leading '# expect: ' line"
    continue
  fi
  run_info "$f"
  err=$(tr -d '\0' <"$tmp/err")
  # `info` builds at batch 1 (it overrides batch and subdivisions), so it cannot see errors that
  # only those keys cause; such files say "# cli: batch-only" and may be accepted here.
  if [ $rc -eq 0 ] && grep -aq '^# cli: batch-only' "$f"; then
    continue
  fi
  if [ $rc -ne 1 ]; then
    if [ $rc -ge 128 ]; then
      fail "$f: killed by signal $((rc - 128)): ${err:0:300}"
    else
      fail "$f: exit status $rc, expected 1: ${err:0:300}"
    fi
    continue
  fi
  [[ "$err" == *"rpgnet: error:"* ]] || fail "$f: stderr lacks 'rpgnet: error:': ${err:0:300}"
  for e in "${expect[@]}"; do
    [[ "$err" == *"$e"* ]] || fail "$f: stderr lacks '$e': ${err:0:300}"
  done
done
[ $checked -ge 30 ] || fail "$corpus has only $checked files (at least 30 expected)"

# A missing file: exit 1 and a message naming it.
missing="$tmp/no-such-dir/missing.cfg"
run_info "$missing"
err=$(cat "$tmp/err")
[ $rc -eq 1 ] || fail "info on a missing file: exit status $rc, expected 1"
[[ "$err" == *"rpgnet: error:"*"$missing"* ]] || fail "info on a missing file: message does not name it: $err"

# A good cfg: exit 0 and a layer table on stdout.
good="$tmp/good dir/good.cfg"
mkdir -p "$tmp/good dir"
printf '\xEF\xBB\xBF[net]\r\nwidth=8\r\nheight=8\r\nchannels=1 # gray\r\n\r\n[conv]\r\nfilters=4\r\nsize=3\r\n' >"$good"
printf 'activation=leaky\r\n\r\n[connected]\r\noutput=10\r\n\r\n[softmax]' >>"$good"
run_info "$good"
if [ $rc -ne 0 ]; then
  fail "info on a good cfg: exit status $rc, expected 0: $(head -c 300 "$tmp/err")"
elif ! grep -q "input" "$tmp/out"; then
  fail "info on a good cfg printed no summary: $(head -c 300 "$tmp/out")"
fi

echo "$failures failure(s) in $checked corpus files and 2 more checks"
echo "cfg_errors: $((checked + 2 - failures)) passed, $failures failed"
[ $failures -eq 0 ]
