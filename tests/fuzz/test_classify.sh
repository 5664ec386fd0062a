#!/usr/bin/env bash
# test_classify.sh — the fuzz report classifiers (classify.sh, used by run_fuzz.sh) on the canned
# reports in classify/: each file is named FUNCTION.EXPECTED.what.txt, EXPECTED 1 when the report
# is HDF5's fault and 0 when it is lvt's; @SRC@ stands for the source tree (ctest fuzz_classify;
# docs/reliability.md, "Fuzzing").
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
SRC=/lvt-src-tree
. "$DIR/classify.sh"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
n=0 bad=0
for f in "$DIR"/classify/*.txt; do
  name=$(basename "$f" .txt)
  fn=${name%%.*} rest=${name#*.}
  want=${rest%%.*}
  sed "s|@SRC@|$SRC|g" "$f" > "$tmp"
  got=$("$fn" "$tmp")
  n=$((n + 1))
  if [ "$got" != "$want" ]; then
    echo "FAIL: $name: $fn printed $got, expected $want"
    bad=$((bad + 1))
  fi
done
echo "test_classify: $n reports, $bad misclassified"
[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
