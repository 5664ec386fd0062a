#!/usr/bin/env bash
# test_realtext.sh — tools/realtext/build.py --profile small, twice: both builds print the same
# content hash; the stores open with `lvt inspect` (D = 768); realtext_check.py reads them back
# (unit rows, articles as in the manifest, the hash recomputed from the stores, disjoint splits).
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" realtext
"$PY" -c "import sklearn, numpy, h5py" 2>/dev/null || { echo "python3-sklearn/numpy/h5py missing: skipped"; exit 77; }
[ -d /usr/share/common-licenses ] && [ -d /usr/share/doc ] && [ -d /usr/share/man/man1 ] \
  || { echo "no Debian documentation on this machine: skipped"; exit 77; }
for b in a b; do
  "$PY" "$SRC/tools/realtext/build.py" --profile small --lvt "$LVT" --out "$T/$b" > "$T/$b.log" 2>&1 \
    || { cat "$T/$b.log"; fail "build.py ($b)"; }
done
cat "$T/a.log"
ha=$(grep "^content sha256" "$T/a.log"); hb=$(grep "^content sha256" "$T/b.log")
[ -n "$ha" ] && [ "$ha" = "$hb" ] || fail "two builds differ: '$ha' vs '$hb'"
for s in train val ood; do
  "$LVT" inspect "$T/a/realtext-$s.h5" --json > "$T/inspect-$s.json" || fail "lvt inspect $s"
  grep -q '"dim": 768,' "$T/inspect-$s.json" || fail "$s: dim is not 768: $(cat "$T/inspect-$s.json")"
done
"$PY" "$SRC/tests/realtext/realtext_check.py" "$T/a" || fail "realtext_check"
echo "test_realtext: passed"
