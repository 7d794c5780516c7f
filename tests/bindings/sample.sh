#!/usr/bin/env bash
# A user's project outside the tree, for one binding (java, go or csharp): `make install` into a
# temporary PREFIX, then the README's files for that language (the code blocks whose first line
# names a file, "file: NAME") saved in a temporary folder and its run-LANG.sh run there, as the
# README says, on a .data file of 64 Fashion-MNIST images written here. The program trains
# cfg/fashion-resnet-rpg.cfg until its progress callback stops the run, exports and reloads.
# Checks: the run stopped early, the log callback got the library's lines, the export exists;
# the native parts link the installed librpgnet.so.0; and per language what the install adds
# (Java: the pom, the loader's error; Go: no network; C#: the nuspec's files).
# Usage: tests/bindings/sample.sh java|go|csharp   (from the repository root)
set -euo pipefail
lang=$1
case $lang in
  java) files="run-java.sh Train.java" ;;
  go) files="run-go.sh main.go" ;;
  csharp) files="run-csharp.sh Train.cs" ;;
  *) echo "usage: $0 java|go|csharp" >&2; exit 2 ;;
esac
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

PREFIX=$tmp/prefix
make --no-print-directory install PREFIX="$PREFIX" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }
cflags=$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags rpgnet)
[ "$(echo $cflags)" = "-I$PREFIX/include" ] || fail "pkg-config --cflags rpgnet is '$cflags', expected -I$PREFIX/include only"

# 64 Fashion-MNIST training images and labels as IDX files, and a .data naming them.
fm=/usr/share/datasets/fashion-mnist
mkdir "$tmp/data"
( set +o pipefail  # head closes the pipe early
  { printf '\x00\x00\x08\x03\x00\x00\x00\x40\x00\x00\x00\x1c\x00\x00\x00\x1c'
    zcat "$fm/train-images-idx3-ubyte.gz" | head -c $((16 + 64 * 784)) | tail -c $((64 * 784)); } > "$tmp/data/images"
  { printf '\x00\x00\x08\x01\x00\x00\x00\x40'
    zcat "$fm/train-labels-idx1-ubyte.gz" | head -c $((8 + 64)) | tail -c 64; } > "$tmp/data/labels" )
[ "$(stat -c %s "$tmp/data/images")" = $((16 + 64 * 784)) ] || fail "could not write the IDX images"
printf 'classes = 10\ntrain = idx:%s,%s\nbackup = %s\n' "$tmp/data/images" "$tmp/data/labels" "$tmp/backup" > "$tmp/tiny.data"

# The project: the README's files for this language.
proj=$tmp/project
mkdir "$proj"
awk -v dir="$proj" -v want=" $files " '
  /^```/ { if (fence) { fence = 0; out = "" } else { fence = 1; first = 1 }; next }
  fence && first { first = 0
    if ($0 ~ /^(\/\/|#) file: [A-Za-z0-9_.-]+$/ && index(want, " " $NF " ")) out = dir "/" $NF }
  fence && out != "" { print > out }' README.md
for f in $files; do [ -s "$proj/$f" ] || fail "README.md has no block for $f"; done

# Run it as a user would: nothing from this build in the environment, no network for Go.
cd "$proj"
env -u CGO_CFLAGS -u CGO_LDFLAGS -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH -u MONO_PATH \
  PREFIX="$PREFIX" CFG="$root/cfg/fashion-resnet-rpg.cfg" DATA="$tmp/tiny.data" GOPROXY=off GOFLAGS= \
  bash -e "run-$lang.sh" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "run-$lang.sh"; }
cat "$tmp/out"
updates=$(grep -ioE '^finished false after [0-9]+ updates' "$tmp/out" | grep -oE '[0-9]+' || true)
[ -n "$updates" ] || fail "the run was not stopped by the progress callback"
[ "$updates" -ge 3 ] && [ "$updates" -le 4 ] || fail "stopped at update 3, the run ended after $updates updates"
grep -qE '^update 3 of 100, loss [0-9.]+$' "$tmp/out" || fail "no progress line for update 3"
grep -qE '^log: update 3/100 ' "$tmp/out" || fail "the log callback did not get the library's progress lines"
grep -qE '^exported model.rpgm: 169834 parameters$' "$tmp/out" && [ -s model.rpgm ] || fail "no export reloaded"

linked() {  # a native library or program resolves librpgnet.so.0 to the installed one
  local lib=$1
  # (ldd's whole output first: with pipefail, grep -q closing the pipe early fails the pipeline)
  local deps
  deps=$(LD_LIBRARY_PATH=${2:-} ldd "$lib")
  grep -qF "librpgnet.so.0 => $PREFIX/lib/librpgnet.so.0" <<<"$deps" ||
    { ldd "$lib"; fail "$lib does not link $PREFIX/lib/librpgnet.so.0"; }
  if readelf -d "$lib" | grep -F "$root/build"; then fail "$lib has a run path into $root/build"; fi
}
case $lang in
  java)
    linked "$PREFIX/lib/jni/librpgnet_jni.so"
    pom=$PREFIX/share/maven-repo/org/rpgnet/rpgnet/0.1.0/rpgnet-0.1.0.pom
    grep -q '<groupId>org.rpgnet</groupId>' "$pom" || fail "the pom's groupId is not org.rpgnet"
    [ -f "${pom%.pom}.jar" ] || fail "no jar next to the pom"
    (cd "$tmp" && mvn -o -q -B -f "$pom" validate > "$tmp/mvn.log" 2>&1) || { cat "$tmp/mvn.log"; fail "mvn validate rejects $pom"; }
    # Without the JNI library on java.library.path, the error names it and every path tried.
    if java -Djava.library.path="$tmp/none1:$tmp/none2" -cp "$PREFIX/share/java/rpgnet.jar:." Train a b > "$tmp/err" 2>&1; then
      fail "ran without its JNI library"
    fi
    grep -qF "librpgnet_jni.so is not on java.library.path; tried $tmp/none1/librpgnet_jni.so, $tmp/none2/librpgnet_jni.so" "$tmp/err" ||
      { cat "$tmp/err"; fail "the loader's error does not name the library and the paths tried"; } ;;
  go)
    linked "$proj/train" "$PREFIX/lib"
    grep -q "^replace rpgnet.org/rpgnet => $PREFIX/share/gocode/src/rpgnet.org/rpgnet$" go.mod || fail "go.mod does not replace the module" ;;
  csharp)
    linked "$PREFIX/lib/cli/rpgnet/librpgnet_cs.so"
    nuspec=$PREFIX/lib/cli/rpgnet/RpgNet.nuspec
    xmllint --noout "$nuspec" "$root/bindings/csharp/RpgNet.csproj" || fail "RpgNet.nuspec or RpgNet.csproj is not well-formed"
    grep -q 'target="runtimes/linux-x64/native/librpgnet_cs.so"' "$nuspec" || fail "the nuspec does not pack the native library"
    for src in $(grep -oE 'src="[^"]+"' "$nuspec" | cut -d'"' -f2); do
      [ -f "$(dirname "$nuspec")/$src" ] || fail "the nuspec packs $src, which is not installed"
    done ;;
esac
echo "sample $lang: OK"
