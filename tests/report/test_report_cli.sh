#!/usr/bin/env bash
# test_report_cli.sh — `lvt report` finds its script ($LVT_REPORT_SCRIPT, the installed layout
# <bin>/../share/lvt/report.py, the source tree), passes every argument on, and fails with one
# line and exit 1 on bad input.
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" report_cli
"$LVT" report --help | grep -q "usage: lvt report RUN_DIR... --out DIR" || fail "--help"
"$LVT" help | grep -q "^  report " || fail "lvt help lists report"
# bad [ARGS...] TEXT: exit 1, one stderr line containing TEXT
bad() {
  local text=${*: -1}
  "$LVT" report "${@:1:$#-1}" > "$T/o" 2> "$T/e"; local rc=$?
  [ $rc = 1 ] || fail "lvt report ${*:1:$#-1}: exit $rc, expected 1"
  [ "$(wc -l < "$T/e")" = 1 ] || fail "lvt report ${*:1:$#-1}: $(wc -l < "$T/e") stderr lines: $(cat "$T/e")"
  grep -qF -- "$text" "$T/e" || fail "lvt report ${*:1:$#-1}: '$(cat "$T/e")' lacks '$text'"
  echo "ok: $(cat "$T/e")"
}
mkdir -p "$T/empty"
bad "no run directory given"
bad "$T/empty" "--out DIR is required"
bad "$T/empty" --out "$T/x" "neither a training run (training_history.json) nor a sweep (sweep.csv)"
bad "$T/nowhere" --out "$T/x" "no such directory"
bad "$T/empty" --bogus "unknown option '--bogus'"
echo '{"history": []}' > "$T/empty/training_history.json"
bad "$T/empty" --out "$T/x" "no epochs"
# the script is found in this order; arguments pass through unchanged
printf 'import sys\nprint("ENV", sys.argv[1:])\n' > "$T/stub_env.py"
LVT_REPORT_SCRIPT="$T/stub_env.py" "$LVT" report a "b c" --out d > "$T/o" || fail "stub via LVT_REPORT_SCRIPT"
grep -qF "ENV ['a', 'b c', '--out', 'd']" "$T/o" || fail "arguments: $(cat "$T/o")"
LVT_REPORT_SCRIPT="$T/missing.py" "$LVT" report x --out y 2> "$T/e"; [ $? = 1 ] || fail "missing LVT_REPORT_SCRIPT"
grep -qF "is not a readable file" "$T/e" || fail "missing script message: $(cat "$T/e")"
mkdir -p "$T/prefix/bin" "$T/prefix/share/lvt"
cp "$LVT" "$T/prefix/bin/lvt"
printf 'import sys\nprint("INSTALLED", sys.argv[1:])\n' > "$T/prefix/share/lvt/report.py"
"$T/prefix/bin/lvt" report r --out o > "$T/o" || fail "installed layout"
grep -qF "INSTALLED ['r', '--out', 'o']" "$T/o" || fail "installed copy not used: $(cat "$T/o")"
rm "$T/prefix/share/lvt/report.py"
"$T/prefix/bin/lvt" report --out o 2> "$T/e"; grep -qF "no run directory given" "$T/e" || fail "source-tree fallback: $(cat "$T/e")"
LVT_PYTHON="$T/no-python" "$LVT" report r --out o 2> "$T/e"; [ $? = 1 ] || fail "missing python exit code"
grep -qF "cannot run $T/no-python" "$T/e" || fail "missing python message: $(cat "$T/e")"
echo "test_report_cli: passed"
