#!/usr/bin/env bash
# The C ABI's shape: capi/rpgnet.h compiles as strict C99 (and C11, and C++) including only
# <stdint.h> and <stddef.h>, with RPG_API empty under SWIG; the shared library exports rpg_*
# symbols and nothing else, exactly the functions the header declares; its soname carries
# RPG_ABI_VERSION and its file name the header's version; the installed copy and its
# pkg-config file agree.
# Usage: tests/capi/abi.sh BUILD_DIR   (run from the repository root; after make test's builds)
set -u
build=${1:-build}
lib=$build/librpgnet.so
header=capi/rpgnet.h
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# 1. The header alone, as C99, C11 and C++, warnings as errors.
printf '#include "rpgnet.h"\n#include "rpgnet.h"\nint main(void) { return rpg_abi_version() == RPG_ABI_VERSION ? 0 : 1; }\n' >"$tmp/h.c"
cc -std=c99 -Wall -Wextra -Werror -pedantic -Icapi -fsyntax-only "$tmp/h.c" || fail "the header does not compile as C99"
cc -std=c11 -Wall -Wextra -Werror -pedantic -Icapi -fsyntax-only "$tmp/h.c" || fail "the header does not compile as C11"
cp "$tmp/h.c" "$tmp/h.cc"
c++ -std=c++11 -Wall -Wextra -Werror -pedantic -Icapi -fsyntax-only "$tmp/h.cc" || fail "the header does not compile as C++"
includes=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$header" | grep -vE '<(stdint|stddef)\.h>')
[ -z "$includes" ] || fail "the header includes more than <stdint.h> and <stddef.h>: $includes"
cc -std=c99 -DSWIG -E -Icapi "$tmp/h.c" | grep -q '__attribute__' && fail "RPG_API is not empty under SWIG"
grep -qE '\b(bool|long|enum|union)\b[^*]*[;,)]' <(grep '^RPG_API\|^  ' "$header" | grep -v '^ *\*\|/\*') &&
  fail "a declaration uses bool, long, enum or union"

# 2. Exported dynamic symbols: rpg_* only, exactly the header's functions.
if [ ! -e "$lib" ]; then
  fail "$lib is missing (run make first)"
else
  nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u >"$tmp/exported"
  grep -v '^rpg_' "$tmp/exported" >"$tmp/foreign"
  if [ -s "$tmp/foreign" ]; then
    fail "$lib exports $(wc -l <"$tmp/foreign") symbols not prefixed rpg_, e.g.: $(head -5 "$tmp/foreign" | tr '\n' ' ')"
  fi
  grep -h '^RPG_API' "$header" | sed -E 's/\(.*//' | awk '{print $NF}' | tr -d '*' | sort -u >"$tmp/declared"
  missing=$(comm -23 "$tmp/declared" "$tmp/exported")
  extra=$(comm -13 "$tmp/declared" "$tmp/exported")
  [ -z "$missing" ] || fail "declared but not exported: $missing"
  [ -z "$extra" ] || fail "exported but not declared: $extra"
  echo "$(wc -l <"$tmp/exported") exported symbols, $(wc -l <"$tmp/declared") declared functions"

  # 3. Soname and file name from the header's versions.
  abi=$(sed -nE 's/^#define RPG_ABI_VERSION ([0-9]+).*/\1/p' "$header")
  version=$(for p in MAJOR MINOR PATCH; do sed -nE "s/^#define RPG_VERSION_$p ([0-9]+).*/\1/p" "$header"; done | paste -sd.)
  soname=$(readelf -d "$lib" | sed -nE 's/.*Library soname: \[(.*)\].*/\1/p')
  [ "$soname" = "librpgnet.so.$abi" ] || fail "soname is '$soname', expected librpgnet.so.$abi (RPG_ABI_VERSION)"
  [ -e "$build/librpgnet.so.$version" ] || fail "$build/librpgnet.so.$version is missing (the header says $version)"
  echo "soname $soname, version $version"
fi

# 4. The installed copy (make install PREFIX=$build/install) and its pkg-config file.
prefix=$build/install
if [ -d "$prefix" ]; then
  cmp -s "$header" "$prefix/include/rpgnet.h" || fail "the installed header differs from $header"
  for f in librpgnet.a librpgnet.so librpgnet.so.0 "librpgnet.so.$version"; do
    [ -e "$prefix/lib/$f" ] || fail "$prefix/lib/$f is not installed"
  done
  pc() { PKG_CONFIG_PATH=$(cd "$prefix/lib/pkgconfig" && pwd) pkg-config "$@"; }
  [ "$(pc --modversion rpgnet)" = "$version" ] || fail "pkg-config --modversion rpgnet is not $version"
  static=$(pc --static --libs rpgnet)
  for l in -lrpgnet -lopenblas -lz -lstb -lgomp -lstdc++; do
    case " $static " in *" $l "*) ;; *) fail "pkg-config --static --libs rpgnet lacks $l: $static" ;; esac
  done
else
  fail "$prefix is missing (make install PREFIX=$prefix)"
fi

echo "abi: $((failures == 0 ? 1 : 0)) passed, $failures failed"
exit $((failures > 0))
