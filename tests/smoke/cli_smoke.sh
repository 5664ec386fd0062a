#!/usr/bin/env bash
# cli_smoke.sh — `lvt --version`, `lvt help`, each `lvt CMD --help` exits 0; unknown commands exit 1.
set -u
fail=0
"$LVT_BIN" --version | grep -q '^lvt ' || { echo "FAIL: --version"; fail=1; }
"$LVT_BIN" help >/dev/null || { echo "FAIL: help"; fail=1; }
for c in synth convert inspect config init train eval predict export bench; do
  "$LVT_BIN" "$c" --help >/dev/null || { echo "FAIL: $c --help"; fail=1; }
done
"$LVT_BIN" frobnicate 2>/dev/null; rc=$?
[ "$rc" = 1 ] || { echo "FAIL: unknown command exit $rc"; fail=1; }
msg=$("$LVT_BIN" frobnicate 2>&1)
echo "$msg" | grep -q "unknown command 'frobnicate'" || { echo "FAIL: unknown command message: $msg"; fail=1; }
[ $fail = 0 ] && echo "cli_smoke: passed"
exit $fail
