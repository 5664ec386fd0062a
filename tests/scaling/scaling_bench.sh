# scaling_bench.sh — `lvt bench` step split: one process (no all-reduce) and under mpirun -np 2
# (data-parallel, MPI all-reduce of the flat gradient). Asserts the parts (compute, wait,
# all-reduce, optimiser) sum to the independently timed step within 10 %, that ranks end with
# identical parameters (the gradients were averaged), and the ring cost model 2(N-1)/N*bytes/bw
# and efficiency against a recomputation in Python. The P4 step (--step p4, with --contend 1) on
# two ranks: its loss statistics are reduced across ranks and the ranks stay in sync, its FLOPs count
# the rollout slot backwards that ran (with the flat penalty forced active all do); --step eval
# times only the forward; a bad --step is one clear line; OpenMP's wait policy is PASSIVE unless the
# user set one.
set -u
T="$LVT_TEST_TMP/scaling_bench"
rm -rf "$T" && mkdir -p "$T"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
command -v mpirun > /dev/null || { echo "no mpirun: skipped"; exit 77; }
cat > "$T/cfg.json" <<CFG
{"model": {"dim": 16, "d_model": 32, "n_heads": 4, "n_layers": 2, "dropout": 0.1},
 "data": {"train": "unused.h5", "val": "unused.h5"},
 "train": {"global_batch": 8, "backend": "cpu", "seed": 7}}
CFG
"$LVT_BIN" bench "$T/cfg.json" --steps 4 --warmup 1 --bandwidth 25 --json > "$T/w1.json" || fail "bench, one process"
mpirun --oversubscribe --bind-to none -np 2 "$LVT_BIN" bench "$T/cfg.json" --steps 4 --warmup 1 \
  --bandwidth 50 --ranks 64 --json > "$T/w2.json" || fail "bench under mpirun -np 2"
# the human-readable form prints the split line
mpirun --oversubscribe --bind-to none -np 2 "$LVT_BIN" bench "$T/cfg.json" --steps 2 --warmup 1 > "$T/w2.txt" ||
  fail "bench text under mpirun"
grep -q "compute .* + wait .* + all-reduce .* + optimiser .* = .* (step " "$T/w2.txt" || fail "no split line"
grep -q "parameters identical across ranks" "$T/w2.txt" || fail "ranks disagree (text)"
[ "$(grep -c 'lvt bench: backend' "$T/w2.txt")" = 1 ] || fail "more than one rank printed the report"
# a bad --bandwidth is one clear line and exit 1
"$LVT_BIN" bench "$T/cfg.json" --bandwidth 0 > /dev/null 2> "$T/err.txt" && fail "--bandwidth 0 accepted"
[ "$(wc -l < "$T/err.txt")" = 1 ] && grep -q "bandwidth" "$T/err.txt" || fail "error output: $(cat "$T/err.txt")"
mpirun --oversubscribe --bind-to none -np 2 "$LVT_BIN" bench "$T/cfg.json" --step p4 --contend 1 --steps 2 \
  --warmup 1 --json > "$T/p4.json" || fail "bench --step p4 under mpirun -np 2"
# the flat penalty always active (threshold -1): every rollout slot's backward runs
"$LVT_BIN" bench "$T/cfg.json" --step p4 --steps 2 --warmup 1 --set objective.flat_threshold=-1 --json \
  > "$T/p4a.json" || fail "bench --step p4, flat always active"
"$LVT_BIN" bench "$T/cfg.json" --step eval --steps 2 --warmup 0 --json > "$T/eval.json" || fail "bench --step eval"
# the OpenMP wait policy: PASSIVE when unset (lvt re-executes with it), the user's setting kept
wait_of() { "$LVT_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["omp_wait_policy"])' "$1"; }
env -u OMP_WAIT_POLICY "$LVT_BIN" bench "$T/cfg.json" --step eval --steps 1 --warmup 0 --json > "$T/wp.json" || fail "bench, wait policy unset"
[ "$(wait_of "$T/wp.json")" = PASSIVE ] || fail "wait policy with OMP_WAIT_POLICY unset: $(wait_of "$T/wp.json")"
OMP_WAIT_POLICY=active "$LVT_BIN" bench "$T/cfg.json" --step eval --steps 1 --warmup 0 --json > "$T/wa.json" || fail "bench, wait policy active"
[ "$(wait_of "$T/wa.json")" = active ] || fail "user's OMP_WAIT_POLICY=active not kept: $(wait_of "$T/wa.json")"
"$LVT_BIN" bench "$T/cfg.json" --step p5 > /dev/null 2> "$T/err.txt" && fail "--step p5 accepted"
[ "$(wc -l < "$T/err.txt")" = 1 ] && grep -q -- "--step" "$T/err.txt" || fail "error output: $(cat "$T/err.txt")"
"$LVT_PYTHON" - "$T/p4.json" "$T/eval.json" "$T/p4a.json" <<'PY' || fail "step checks"
import json, math, sys
p4, ev, p4a = (json.load(open(p)) for p in sys.argv[1:4])
assert p4["step"] == "p4" and p4["contend"] == 1 and p4["world"] == 2, p4
assert p4["forward"] is None and p4["train"]["ms_per_step"] > 0, p4
# rollout slot backwards (docs/loss.md, "Zero-gradient slots"): H - 1 = 2 later slots per step, run
# or skipped; the analytic FLOPs count H forwards + 2 x forward per backward that ran
for r in (p4, p4a):
    rb = r["rollout_backward"]
    assert rb["slots_run"] + rb["slots_skipped"] == 2, r
    assert r["flops_step_per_sample"] == (3 + 2 * (1 + rb["slots_run"])) * r["flops_fwd_per_sample"], r
assert p4a["rollout_backward"]["slots_run"] == 2 and p4a["flops_step_per_sample"] == 9 * p4a["flops_fwd_per_sample"], p4a
assert p4["params_in_sync"] is True and math.isfinite(p4["last_loss"]) and p4["last_loss"] > 0, p4
assert ev["step"] == "eval" and ev["train"] is None and ev["forward"]["ms_per_step"] > 0, ev
assert ev["gemm"] is None, ev  # GEMMs are counted in the training step only
PY
# The measured GEMM count (docs/bench.md, "GEMM share"): the FLOPs the CPU backend executed per
# step equal the linear layers' count with the last layer's rows pruned to position L-1 (the
# attention products are not GEMMs), per rank: P1 3F - 2LDd (no input gradient), P4 (3 + 2(1 + s))F
# - 2LDd with s the later rollout slots whose backward ran (9F - 2LDd when all 2 ran).
"$LVT_PYTHON" - "$T/w1.json" "$T/p4.json" "$T/p4a.json" <<'PY' || fail "GEMM count"
import json, sys
for path, kind in zip(sys.argv[1:4], ("p1", "p4", "p4")):
    r = json.load(open(path))
    g, B = r["gemm"], r["batch"]
    L, D, d, n = r["context_len"], r["dim"], r["d_model"], r["n_layers"]
    F = 4 * d  # ffn_mult 4 (the config's default)
    body = 16 * L * d * d + 4 * L * d * F          # a full layer's linears
    tail = 10 * L * d * d + 6 * d * d + 4 * d * F  # the last layer: k|v for L rows, the rest 1 row
    fwd = 2 * L * D * d + (n - 1) * body + tail + 2 * d * d + 2 * d * D
    per = (3 if kind == "p1" else 3 + 2 * (1 + r["rollout_backward"]["slots_run"])) * fwd - 2 * L * D * d
    want = B * per * 1e-9
    assert g is not None and g["calls_per_step"] > 0 and g["ms_per_step"] > 0, r
    assert abs(g["gflop_per_step"] - want) <= 1e-4 * want + 1e-4, (kind, g, want)
    assert g["ms_per_step"] <= r["split"]["step_ms"], (kind, g, r["split"])
print("GEMM count ok")
PY

"$LVT_PYTHON" - "$T/w1.json" "$T/w2.json" <<'PY' || fail "checks"
import json, sys
w1, w2 = (json.load(open(p)) for p in sys.argv[1:3])
ok = True
def check(cond, msg):
    global ok
    if not cond:
        print("check failed:", msg)
        ok = False
for r, world, comm, bw, ranks in ((w1, 1, "none", 25.0, 8), (w2, 2, "mpi", 50.0, 64)):
    s = r["split"]
    check(r["world"] == world and r["comm"] == comm, f"world/comm {r['world']} {r['comm']}")
    parts = s["compute_ms"] + s["wait_ms"] + s["allreduce_ms"] + s["optim_ms"]
    check(abs(parts - s["step_ms"]) <= 0.10 * s["step_ms"], f"parts {parts} vs step {s['step_ms']}")
    check(min(s["compute_ms"], s["optim_ms"]) > 0 and min(s["wait_ms"], s["allreduce_ms"]) >= 0, f"parts {s}")
    check(r["grad_bytes"] == 4 * r["n_params"], "gradient bytes")
    m = r["model"]
    ring = 2 * (ranks - 1) / ranks * r["grad_bytes"] / (bw * 1e9) * 1e3
    check(m["ranks"] == ranks and abs(m["allreduce_ms"] - ring) <= 1e-3 * ring + 1e-4, f"model {m} vs {ring}")
    busy = s["compute_ms"] + s["optim_ms"]
    check(abs(m["efficiency"] - busy / (busy + ring)) < 2e-4, f"efficiency {m['efficiency']}")
check(w1["split"]["allreduce_ms"] == 0 and w1["split"]["wait_ms"] == 0, "one process has no all-reduce")
check(w1["split"]["allreduce_busbw_gbps"] == 0, "no bandwidth for one process")
s2 = w2["split"]
check(s2["allreduce_ms"] > 0, "two ranks spend time in the all-reduce")
busbw = 2 * (2 - 1) / 2 * w2["grad_bytes"] / (s2["allreduce_ms"] * 1e-3) * 1e-9
check(abs(s2["allreduce_busbw_gbps"] - busbw) <= 1e-3 * busbw + 1e-4, "bus bandwidth")
check(w2["params_in_sync"] is True, "parameters differ across ranks after averaged steps")
check(w1["params_in_sync"] is True, "one process is trivially in sync")
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
echo PASS
