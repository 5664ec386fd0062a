#!/usr/bin/env bash
# test_graph_step.sh — the CUDA-graph step of `lvt train` (src/train/train_graph.c) gives the
# weights of the eager step, on the CPU: LVT_GRAPH_EMULATE=1 runs the graph step (statistics
# summed on the backend and read every log_every steps, the device optimiser, the non-finite
# check on the device) eagerly, with the store resident on the backend (LVT_DEVDATA=1). Over 70
# P4 steps across two epoch boundaries with log_every 7 (reads at uneven intervals) it must give
# bit-identical weights and the same epoch train losses (1e-5: the graph step sums the terms in
# float between reads) as the eager step; a NaN injected at step 12 must roll back the same way
# (identical weights again); two ranks without NCCL must fall back to eager, saying why.
# On a GPU, test_cuda_train compares real graph replays with eager GPU runs.
source "$LVT_SOURCE_DIR/tests/dist/dist_common.sh" graph_step
DIFF="${LVT_CKPT_DIFF:?LVT_CKPT_DIFF not set}"
make_stores 32 30
write_config "$T/p4.json" 32
export LVT_DEVDATA=1
run() { # name [env...] -- [sets...]
  local name=$1; shift
  env "$@" "$LVT" train "$T/p4.json" --run-dir "$T/$name" --set train.max_steps=70 --set train.log_every=7 \
    ${SETS:-} > "$T/$name.log" 2>&1 || { cat "$T/$name.log"; fail "$name run"; }
}
SETS="--set train.cuda_graph=false" run eager
run graph LVT_GRAPH_EMULATE=1
grep -q "cuda graph: off (train.cuda_graph is off)" "$T/eager.log" || fail "the eager run does not say why it is eager"
grep -q "cuda graph: emulated" "$T/graph.log" || { cat "$T/graph.log"; fail "the graph step was not used"; }
"$DIFF" "$T/eager/ckpt/last.h5" "$T/graph/ckpt/last.h5" 0 || fail "graph step != eager step"
"$PY" - "$T/eager/metrics.jsonl" "$T/graph/metrics.jsonl" <<'PYEOF' || fail "epoch or step records differ"
import json, sys
def recs(p):
    ep, st = [], {}
    for l in open(p):
        r = json.loads(l)
        if r.get("type") == "epoch": ep.append(r)
        if r.get("type") == "step": st[r["global_step"]] = r
    return ep, st
(ea, sa), (eb, sb) = recs(sys.argv[1]), recs(sys.argv[2])
assert len(ea) == len(eb) >= 2, (len(ea), len(eb))
for a, b in zip(ea, eb):
    for k in ("train_loss", "train_cosine", "train_mse", "train_rollout", "train_dir", "train_future",
              "train_anticopy", "lambda_dir_eff", "val_loss", "val_cosine", "margin"):
        assert abs(a[k] - b[k]) <= 1e-5 * abs(a[k]) + 1e-9, (a["epoch"], k, a[k], b[k])
# step records at the same steps (the graph step's terms are the means since the previous record;
# the gradient norm is the step's own in both)
assert sorted(sa) == sorted(sb) and len(sa) == 10, (sorted(sa), sorted(sb))
for g in sa:
    assert sa[g]["grad_norm"] == sb[g]["grad_norm"], (g, sa[g]["grad_norm"], sb[g]["grad_norm"])
print("epochs %d, step records at %s: equal" % (len(ea), sorted(sa)))
PYEOF
# a non-finite loss: both roll back and continue identically
SETS="--set train.cuda_graph=false" run eager_nan LVT_FAULT_NAN_STEP=12
run graph_nan LVT_FAULT_NAN_STEP=12 LVT_GRAPH_EMULATE=1
grep -q "non-finite loss" "$T/graph_nan.log" || { cat "$T/graph_nan.log"; fail "no rollback in the graph run"; }
"$DIFF" "$T/eager_nan/ckpt/last.h5" "$T/graph_nan/ckpt/last.h5" 0 || fail "graph step != eager step after a NaN rollback"
# several ranks without NCCL: eager, with the reason
if command -v mpirun > /dev/null; then
  LVT_GRAPH_EMULATE=1 "${MPIRUN[@]}" -np 2 "$LVT" train "$T/p4.json" --run-dir "$T/mpi" --set train.max_steps=3 \
    > "$T/mpi.log" 2>&1 || { cat "$T/mpi.log"; fail "2-rank run"; }
  if grep -q "x world 2" "$T/mpi.log"; then
    grep -q "cuda graph: off (2 ranks without NCCL" "$T/mpi.log" || { cat "$T/mpi.log"; fail "2 ranks: no reason given"; }
  else
    echo "test_graph_step: this lvt has no MPI (LVT_MPI=OFF): the 2-rank part did not run"
  fi
fi
echo "test_graph_step: passed"
