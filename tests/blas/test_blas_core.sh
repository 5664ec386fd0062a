#!/usr/bin/env bash
# test_blas_core.sh — the OpenBLAS core in force (OPENBLAS_VERBOSE=2 prints "Core: X" at every
# library initialisation): plain `lvt` runs the core test_blas_select --pick names for OpenBLAS's
# own choice (re-executed once when that choice was a fallback), `lvt --version`, `lvt bench --json`
# (also under mpirun -np 2: both ranks) and the `lvt train` header say so; the re-executed process
# keeps its name; a user's OPENBLAS_CORETYPE is kept; the test executables (test_optim, the model
# and loss parity drivers) select the same core. usage: test_blas_core.sh TEST_BLAS_SELECT TEST_OPTIM MODEL_DRV LOSS_DRV
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" test_blas_core
SEL=$1 OPTIM=$2 MDRV=$3 LDRV=$4
case "$(uname -m)" in x86_64 | i?86) ;; *) echo "SKIP: core selection is x86-only"; exit 77 ;; esac
unset OPENBLAS_CORETYPE LVT_BLAS_CORE_FROM
export OPENBLAS_VERBOSE=2 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# cores FILE [N]: the first N (all) "Core: X" lines of FILE, space-separated (one per OpenBLAS
# initialisation; child processes such as python references add theirs after the process's own)
cores() { sed -n 's/^Core: //p' "$1" | head -n "${2:-1000}" | tr '\n' ' ' | sed 's/ $//'; }

"$LVT" --version > "$T/v.out" 2> "$T/v.err" || fail "lvt --version exited $?"
own=$(sed -n 's/^Core: //p' "$T/v.err" | head -1)
[ -n "$own" ] || fail "OpenBLAS printed no 'Core:' line: $(cat "$T/v.err")"
exp=$("$SEL" --pick "$own" 2> /dev/null) || fail "test_blas_select --pick"
if [ "$exp" = none ]; then
  want=$own wcores=$own by="OpenBLAS's own detection" jby=openblas
else
  want=$exp wcores="$own $exp" by="selected by lvt over OpenBLAS's $own" jby=lvt
fi
echo "OpenBLAS chose $own by itself; lvt's rule: $exp; expected in force: $want"
[ "$(cores "$T/v.err")" = "$wcores" ] || fail "plain lvt: OpenBLAS initialised as '$(cores "$T/v.err")', want '$wcores'"
grep -qx "BLAS: OpenBLAS [0-9.]* ([a-zA-Z]*), core $want ($by), 1 thread" "$T/v.out" ||
  fail "lvt --version: $(cat "$T/v.out")"
sed -n 2p "$T/v.out"

# a user's OPENBLAS_CORETYPE is never overridden (any spelling OpenBLAS accepts), nor re-executed
for u in Prescott prescott "$want"; do
  OPENBLAS_CORETYPE=$u "$LVT" --version > "$T/u.out" 2> "$T/u.err" || fail "lvt --version with $u"
  [ "$(cores "$T/u.err")" = "${u^}" ] || [ "$(cores "$T/u.err")" = "$u" ] ||
    fail "OPENBLAS_CORETYPE=$u: OpenBLAS initialised as '$(cores "$T/u.err")'"
  grep -q "core [A-Za-z]* (OPENBLAS_CORETYPE=$u)" "$T/u.out" || fail "OPENBLAS_CORETYPE=$u: $(cat "$T/u.out")"
done
echo "OPENBLAS_CORETYPE kept: $(sed -n 2p "$T/u.out")"

# lvt bench --json: {"blas": {...}} in one process and on both ranks of mpirun -np 2
check_json() { # FILE WORLD
  "$PY" - "$1" "$2" "$want" "$jby" "$own" <<'PY' || fail "bench JSON: $(cat "$1")"
import json, sys
path, world, want, by, own = sys.argv[1:]
d = json.loads(open(path).read())
b = d["blas"]
assert d["world"] == int(world), d["world"]
assert b["library"] == "OpenBLAS" and b["core"] == want and b["chosen_by"] == by, b
assert b["openblas_core"] == own and b["threads"] == 1, b
print("bench:", b)
PY
}
BENCH=(bench "$SRC/configs/quickstart.json" --steps 2 --warmup 1 --batch 8 --json)
"$LVT" "${BENCH[@]}" > "$T/b.json" 2> "$T/b.err" || fail "lvt bench: $(tail -3 "$T/b.err")"
check_json "$T/b.json" 1
if command -v mpirun > /dev/null; then
  mpirun --oversubscribe --bind-to none -np 2 "$LVT" "${BENCH[@]}" > "$T/m.json" 2> "$T/m.err" ||
    fail "mpirun lvt bench: $(tail -3 "$T/m.err")"
  check_json "$T/m.json" 2
  n=$(grep -cx "Core: $want" "$T/m.err")
  [ "$n" = 2 ] || fail "mpirun -np 2: 'Core: $want' initialised $n times, want 2 ($(cores "$T/m.err"))"
fi

# the train header names library, core and threads
"$LVT" synth --out "$T/train.h5" --articles 40 --dim 16 --seed 1 > /dev/null 2>&1 || fail "synth"
cat > "$T/c.json" <<CFG
{"model": {"dim": 16, "d_model": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.0},
 "data": {"train": "$T/train.h5", "val": "$T/train.h5", "ood": "$T/train.h5"},
 "train": {"epochs": 1, "global_batch": 16, "backend": "cpu", "seed": 1},
 "eval": {"mini5cat_samples": 16}}
CFG
"$LVT" train "$T/c.json" --run-dir "$T/run" > "$T/t.out" 2> "$T/t.err" || fail "lvt train: $(tail -3 "$T/t.err")"
grep -q "BLAS: OpenBLAS [0-9.]* ([a-zA-Z]*), core $want ($by), 1 thread" "$T/run/training.log" ||
  fail "train header: $(grep BLAS "$T/run/training.log")"

# after the re-exec the process keeps its name (ps, pgrep; comm is at most 15 characters)
name=$("$SEL" --comm 2> /dev/null)
[ "$name" = "$(basename "$SEL" | cut -c1-15)" ] || fail "process name after the re-exec: '$name'"

# the test executables select the same core: test_optim passes under it; the parity drivers start with it
nw=$(echo "$wcores" | wc -w)
"$OPTIM" > "$T/o.out" 2> "$T/o.err" || fail "test_optim under the selected core: $(tail -5 "$T/o.err")"
[ "$(cores "$T/o.err" "$nw")" = "$wcores" ] || fail "test_optim: OpenBLAS initialised as '$(cores "$T/o.err" "$nw")'"
for d in "$MDRV" "$LDRV"; do
  "$d" > /dev/null 2> "$T/d.err" # usage (exit 1): only the initialisation is of interest
  [ "$(cores "$T/d.err")" = "$wcores" ] || fail "$(basename "$d"): OpenBLAS initialised as '$(cores "$T/d.err")'"
done
echo "test_blas_core: passed"
