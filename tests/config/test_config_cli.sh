#!/usr/bin/env bash
# test_config_cli.sh — `lvt config check|show`: the configs/ recipes pass; `show` of `{}` echoes every
# documented default (checked by Python against its own table); show -> file -> show is a fixed
# point; --set overrides; each bad input exits 1 with exactly one stderr line and nothing on stdout;
# init and bench load through the same --set-then-validate path as config check.
set -u
fail=0
bad() { echo "FAIL: $*"; fail=1; }
PY=${LVT_PYTHON:-/usr/bin/python3}
T="$LVT_TEST_TMP/test_config_cli"
rm -rf "$T" && mkdir -p "$T/a" "$T/b" && cd "$T" || exit 1
HERE=$(pwd -P)

# 1. the shipped recipes are valid
for n in p1_baseline p3_tiny_guards p4_rollout; do
  f="$LVT_SOURCE_DIR/configs/$n.json"
  out=$("$LVT_BIN" config check "$f" 2>&1); rc=$?
  [ "$rc" = 0 ] && [ "$out" = "ok: $f" ] || bad "check $n: rc=$rc out=$out"
done

# 2. defaults echo: every key of docs/config.md with its default
echo '{}' > a/empty.json
"$LVT_BIN" config show a/empty.json > show_empty.json || bad "show {} failed"
"$PY" - show_empty.json "$HERE" <<'PYEOF' || bad "defaults echo differs"
import json, sys
got = json.load(open(sys.argv[1]))
here = sys.argv[2]
want = {
  "model": {"arch": "transformer", "dim": 768, "d_model": 512, "n_heads": 8, "n_layers": 4,
            "ffn_mult": 4, "dropout": 0.1},
  "data": {"train": here + "/data/train.h5", "val": here + "/data/val.h5", "ood": here + "/data/ood.h5",
           "context_len": 5, "normalize": True, "drop_degenerate": False, "shard": "replicate",
           "cross_article": False},
  "train": {"epochs": 20, "global_batch": 64, "micro_batch": 0, "max_steps": 0, "seed": 42,
            "backend": "auto", "math": "tf32", "log_every": 100, "grad_clip": 1.0, "grad_accum": 0,
            "nan_max_retries": 3, "cuda_graph": True, "monitor": "auto"},
  "optim": {"lr": 5e-4, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "schedule": "plateau",
            "plateau": {"factor": 0.5, "patience": 3, "threshold": 1e-4}, "min_lr": 0.0},
  "objective": {"base_loss": "mse", "cosine_weight": 1.0, "rollout_h": 0, "lambda_roll": 0.0, "rollout_grad": "full", "rollout_supervise": "flat",
                "flat_threshold": 0.95, "flat_scale": 10.0, "lambda_dir": 0.0, "margin_dir": 0.01,
                "dir_ref": "prev", "adaptive_dir": "batch", "lambda_fut": 0.0, "margin_fut": 0.008,
                "lambda_ac": 0.0, "margin_ac": 0.02, "context_drop_p": 0.0, "context_drop_mode": "noise"},
  "curriculum": [],
  "tripwires": [],
  "eval": {"mini5cat_samples": 500},
  "output": {"run_dir": here + "/runs/empty", "keep_epochs": "all"},
}
def diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a: print("missing key", path + k); return False
            if k not in b: print("unexpected key", path + k); return False
            if not diff(a[k], b[k], path + k + "."): return False
        return True
    if type(a) != type(b) or a != b:
        print("value", path, repr(a), "want", repr(b)); return False
    return True
sys.exit(0 if diff(got, want) else 1)
PYEOF

# 3. show -> file -> show is a fixed point (paths are absolute, so the copy may live elsewhere)
"$LVT_BIN" config show "$LVT_SOURCE_DIR/configs/p4_rollout.json" > b/p4.json || bad "show p4"
"$LVT_BIN" config check b/p4.json > /dev/null || bad "check of the shown p4"
"$LVT_BIN" config show b/p4.json > b/p4_again.json || bad "show shown p4"
cmp -s b/p4.json b/p4_again.json || bad "show is not a fixed point"

# 4. --set
"$LVT_BIN" config show a/empty.json --set objective.rollout_h=4 --set objective.rollout_grad=first \
  --set optim.plateau.factor=0.25 --set 'optim.betas=[0.8,0.95]' \
  --set 'curriculum=[{"from_epoch":2,"lambda_dir":0.001}]' > set.json || bad "show with --set"
"$PY" - set.json <<'PYEOF' || bad "--set values"
import json, sys
c = json.load(open(sys.argv[1]))
ok = (c["objective"]["rollout_h"] == 4 and c["objective"]["rollout_grad"] == "first"
      and c["optim"]["plateau"]["factor"] == 0.25 and c["optim"]["betas"] == [0.8, 0.95]
      and c["curriculum"] == [{"from_epoch": 2, "lambda_dir": 0.001}])
print(json.dumps(c["objective"]), c["curriculum"]) if not ok else None
sys.exit(0 if ok else 1)
PYEOF

# 5. every failure: exit 1, nothing on stdout, one line on stderr containing the expected text
expect_fail() {  # WANT ARGS...
  local want="$1"; shift
  "$LVT_BIN" config "$@" > out.txt 2> err.txt; local rc=$?
  [ "$rc" = 1 ] || bad "config $*: exit $rc"
  [ -s out.txt ] && bad "config $*: wrote to stdout"
  [ "$(wc -l < err.txt)" = 1 ] || bad "config $*: stderr is not one line: $(cat err.txt)"
  grep -qF -- "$want" err.txt || bad "config $*: message '$(cat err.txt)' lacks '$want'"
}
printf '{\n  "train": {\n    "epochs": 20,,\n  }\n}\n' > a/syntax.json
expect_fail "lvt config: a/syntax.json:3:18: syntax error near ','" check a/syntax.json
printf '{"objective": {"lamda_roll": 0.1}}' > a/typo.json
expect_fail "a/typo.json: objective.lamda_roll: unknown key, did you mean lambda_roll?" check a/typo.json
expect_fail "a/typo.json: objective.lamda_roll: unknown key, did you mean lambda_roll?" show a/typo.json
expect_fail "cannot open a/missing.json: No such file or directory" check a/missing.json
expect_fail "--set: objective.lamda_roll: unknown key, did you mean lambda_roll?" check a/empty.json --set objective.lamda_roll=1
expect_fail "--set: train.epochs: must be in [1, 100000], got 0" show a/empty.json --set train.epochs=0
expect_fail "(with --set): model.n_heads 5 does not divide model.d_model 512" check a/empty.json --set model.n_heads=5
expect_fail "--set needs a value" check a/empty.json --set
expect_fail "unknown flag '--sett'" check a/empty.json --sett x=1
expect_fail "unknown subcommand 'verify'" verify a/empty.json
expect_fail "missing CONFIG.json" check
expect_fail "expected a subcommand" 

# 6. every command loads a config the same way: the file, then each --set, then one validation
# (regression: `config check bad.json --set model.n_heads=4` said ok while `init` and `bench` with
# the same arguments failed, because they validated the file before applying --set)
cat > a/bad.json <<'CFG'
{"model": {"dim": 8, "d_model": 8, "n_heads": 3, "n_layers": 1, "ffn_mult": 1},
 "train": {"global_batch": 2, "backend": "cpu"}}
CFG
fix="--set model.n_heads=4"
out=$("$LVT_BIN" config check a/bad.json $fix 2>&1) || bad "config check with the repairing --set: $out"
out=$("$LVT_BIN" init a/bad.json --out a/init.h5 $fix 2>&1) || bad "init with the repairing --set: $out"
[ -s a/init.h5 ] || bad "init wrote no checkpoint"
out=$("$LVT_BIN" bench a/bad.json --steps 1 --warmup 0 --json $fix 2>&1) || bad "bench with the repairing --set: $out"
"$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["n_heads"] == 4 else 1)' "$out" 2> /dev/null ||
  bad "bench did not run the --set shape: $out"
for cmd in "config check a/bad.json" "init a/bad.json --out a/never.h5" "bench a/bad.json --steps 1 --warmup 0"; do
  err=$("$LVT_BIN" $cmd 2>&1 > /dev/null) && bad "$cmd: accepted n_heads 3"
  echo "$err" | grep -qF "model.n_heads 3 does not divide model.d_model 8" || bad "$cmd: message '$err'"
  err=$("$LVT_BIN" $cmd --set model.n_heads=5 2>&1 > /dev/null) && bad "$cmd --set n_heads=5: accepted"
  echo "$err" | grep -qF "(with --set): model.n_heads 5 does not divide model.d_model 8" ||
    bad "$cmd --set n_heads=5: message '$err'"
done
[ -e a/never.h5 ] && bad "init wrote a checkpoint for an invalid config"

# 7. help
for s in check show; do
  "$LVT_BIN" config $s --help | grep -q "usage: lvt config check" || bad "config $s --help"
done

[ $fail = 0 ] && echo "test_config_cli: passed"
exit $fail
