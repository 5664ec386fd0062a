#!/usr/bin/env bash
# make_corpus.sh LVT_BIN — (re)writes the committed seed corpus tests/fuzz/corpus/<target>/: small
# valid and near-valid inputs of each fuzz target, made with the lvt binary and /usr/bin/python3
# (numpy). Run from anywhere; it replaces the corpus directories. Regressions are not touched.
set -euo pipefail
LVT=$(realpath "${1:?usage: make_corpus.sh path/to/lvt}")
D=$(cd "$(dirname "$0")" && pwd)
PY=${LVT_PYTHON:-/usr/bin/python3}
# for a sanitizer-built lvt (scripts/test-sanitize.sh): library leaks suppressed
export ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$D/../../scripts/lsan.supp}
C="$D/corpus"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rm -rf "$C" && mkdir -p "$C"/{config,npy,npz,safetensors,store,ckpt}

# ---- config: the shipped configs, small and near-valid ones, --set lines ---------------------
for f in "$D"/../../configs/*.json; do cp "$f" "$C/config/$(basename "$f")"; done
printf '{}' > "$C/config/empty.json"
printf '{"model": {"dim": 16, "d_model": 16, "n_heads": 2, "n_layers": 1}, "train": {"epochs": 2}}' > "$C/config/tiny.json"
printf '{"model": {"dim": 16,, "d_model": 16}}' > "$C/config/syntax.json"
printf '{"model": {"d_modle": 16}}' > "$C/config/unknown_key.json"
printf '{"train": {"epochs": "ten"}}' > "$C/config/wrong_type.json"
printf '{"model": {"d_model": 30, "n_heads": 4}}' > "$C/config/heads.json"
printf '{"curriculum": [{"from_epoch": 3, "lambda_roll": 0.1}, {"from_epoch": 2}]}' > "$C/config/phase_order.json"
printf '{"tripwires": [{"epochs": [2, 3], "if": "val_cos >= 0.5", "rollback_to_epoch": 1, "set": {"lr": 1e-4}}]}' > "$C/config/tripwire.json"
printf '{"tripwires": [{"epochs": [2, 3], "if": "val_cos = 0.5", "set": {}}]}' > "$C/config/tripwire_bad.json"
printf '{"data": {"train": "a/../b.h5", "val": "/abs/v.h5", "ood": ""}, "output": {"run_dir": "r", "keep_epochs": "all"}}' > "$C/config/paths.json"
printf '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]' > "$C/config/nesting.json"
printf '{"train": {"seed": 18446744073709551615, "max_steps": -1, "global_batch": 1e400}}' > "$C/config/numbers.json"
printf '{"model": {"dim": 16}}\n--set objective.rollout_h=4\n--set optim.plateau.factor=0.3\n--set curriculum=[{"from_epoch":2,"lambda_dir":0.001}]' > "$C/config/sets.json"
printf '{}\n--set model.dim=abc\n--set objective.lamda_roll=1' > "$C/config/sets_bad.json"
printf '{}\n--set tripwires=[{"epochs":[1,2],"if":"margin < 0","set":{"rollout_h":3}}]\n--set data.train=x.h5' > "$C/config/sets_tripwire.json"

# ---- npy / npz: numpy-written arrays and archives, valid and near-valid -------------------------
"$PY" - "$C" <<'PYEOF'
import io, sys, zipfile, numpy as np
C = sys.argv[1]
r = np.random.default_rng(1)
def npy(name, a, **kw):
    np.save(f"{C}/npy/{name}.npy", a, **kw)
npy("f4", r.standard_normal((3, 4)).astype("<f4"))
npy("f2", r.standard_normal((2, 3)).astype("<f2"))
npy("f8", r.standard_normal((2, 2)))
npy("i8", np.arange(5, dtype="<i8"))
npy("i4", np.arange(4, dtype="<i4").reshape(2, 2))
npy("scalar", np.float32(1.5))
npy("empty_rows", np.zeros((0, 4), "<f4"))
npy("three_d", np.ones((2, 2, 2), "<f4"))
npy("fortran", np.asfortranarray(np.ones((2, 3), "<f4")))
npy("big_endian", np.ones((2, 2), ">f4"))
npy("object", np.array([1, "a"], dtype=object), allow_pickle=True)
npy("structured", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
with open(f"{C}/npy/v2.npy", "wb") as f:
    np.lib.format.write_array(f, np.ones((2, 2), "<f4"), version=(2, 0))
with open(f"{C}/npy/v3.npy", "wb") as f:
    np.lib.format.write_array(f, np.ones((1, 2), "<f4"), version=(3, 0))
raw = open(f"{C}/npy/f4.npy", "rb").read()
open(f"{C}/npy/truncated.npy", "wb").write(raw[:-5])
open(f"{C}/npy/header_only.npy", "wb").write(raw[:40])

def npz(name, compress=False, **arrays):
    (np.savez_compressed if compress else np.savez)(f"{C}/npz/{name}.npz", **arrays)
vec = r.standard_normal((7, 4)).astype("<f4")
npz("articles", vectors=vec, article_indices=np.array([0, 0, 0, 1, 1, 2, 2]))
npz("articles_chunks", vectors=vec, article_indices=np.array([1, 1, 0, 0, 0, 2, 2], "<i4"),
    chunk_indices=np.array([1, 0, 2, 1, 0, 0, 1]))
npz("articles_deflated", True, vectors=vec.astype("<f2"), article_indices=np.array([0, 0, 0, 0, 1, 1, 1]))
npz("articles_dup_chunk", vectors=vec[:3], article_indices=np.zeros(3, "<i8"), chunk_indices=np.array([0, 1, 1]))
npz("articles_int_vectors", vectors=np.ones((2, 2), "<i8"), article_indices=np.zeros(2, "<i8"))
L = 2
ctx = r.standard_normal((4, L, 4)).astype("<f4")
tgt = r.standard_normal((4, 4)).astype("<f4")
npz("sequences", context_sequences=ctx, target_vectors=tgt)
npz("sequences_ids", context_sequences=ctx, target_vectors=tgt, article_ids=np.array([0, 0, 1, 1]),
    target_indices=np.array([2, 3, 2, 5]))
npz("sequences_short", contexts=ctx, targets=tgt[:3])
npz("sequences_f8", True, contexts=ctx.astype("<f8"), targets=tgt.astype("<f8"), article_ids=np.array([3, 3, 3, 3]))
npz("neither", other=np.ones(2))
npz("metadata", vectors=vec[:2], metadata=np.array([{"a": 1}], dtype=object))
raw = open(f"{C}/npz/articles.npz", "rb").read()
open(f"{C}/npz/truncated.npz", "wb").write(raw[: len(raw) // 2])
b = bytearray(raw); b[len(b) // 3] ^= 0xFF
open(f"{C}/npz/crc.npz", "wb").write(bytes(b))
PYEOF

# ---- model files: a tiny checkpoint (with and without optimiser state), safetensors exports ----
cat > "$T/c.json" <<CFG
{"model": {"dim": 4, "d_model": 8, "n_heads": 2, "n_layers": 1, "ffn_mult": 1},
 "data": {"context_len": 2, "train": "$T/tr.h5", "val": "$T/va.h5", "ood": "$T/va.h5"},
 "train": {"epochs": 1, "global_batch": 8, "max_steps": 1, "backend": "cpu"},
 "eval": {"mini5cat_samples": 8}, "output": {"keep_epochs": "1"}}
CFG
"$LVT" synth --out "$T/tr.h5" --articles 4 --dim 4 --seed 1 > /dev/null
"$LVT" synth --out "$T/va.h5" --articles 3 --dim 4 --seed 2 > /dev/null
cp "$T/va.h5" "$C/store/synth.h5"
"$LVT" convert "$C/npz/articles_chunks.npz" --out "$C/store/converted.h5" > /dev/null
"$LVT" convert "$C/npz/articles.npz" --out "$C/store/deflated.h5" --compress 4 > /dev/null
"$LVT" init "$T/c.json" --out "$C/ckpt/init.h5" --seed 3 > /dev/null
OMP_NUM_THREADS=1 "$LVT" train "$T/c.json" --run-dir "$T/run" > /dev/null 2>&1
cp "$T/run/ckpt/last.h5" "$C/ckpt/last.h5"
cp "$C/store/synth.h5" "$C/ckpt/store.h5"
"$LVT" export "$C/ckpt/init.h5" --out "$C/safetensors/init.safetensors" > /dev/null
"$PY" - "$C" <<'PYEOF'
import json, struct, sys, numpy as np
C = sys.argv[1]
raw = open(f"{C}/safetensors/init.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); data = raw[8 + n:]
def write(name, hdr, data):
    h = json.dumps(hdr).encode(); h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    open(f"{C}/safetensors/{name}.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
# the same tensors as F16 and BF16, no metadata
for dt in ("F16", "BF16"):
    h2, out, off = {}, b"", 0
    for k, v in hdr.items():
        if k == "__metadata__": continue
        a = np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], "<f4")
        b = a.astype("<f2").tobytes() if dt == "F16" else (a.view("<u4") >> 16).astype("<u2").tobytes()
        h2[k] = {"dtype": dt, "shape": v["shape"], "data_offsets": [off, off + len(b)]}
        out += b; off += len(b)
    write(dt.lower(), h2, out)
h3 = dict(hdr); h3["pos_encoder.pe"] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
write("buffer", h3, data)
h4 = dict(hdr); h4["__metadata__"] = dict(hdr["__metadata__"], n_heads="3")
write("bad_heads", h4, data)
h5 = {k: v for k, v in hdr.items() if "layers.0.norm1" not in k}
write("missing", h5, data)
h6 = dict(hdr); h6["transformer_decoder.layers.1.norm1.weight"] = hdr["transformer_decoder.layers.0.norm1.weight"]
write("extra_layer", h6, data)
open(f"{C}/safetensors/truncated.safetensors", "wb").write(raw[: len(raw) - 9])
open(f"{C}/safetensors/not_json.safetensors", "wb").write(struct.pack("<Q", 4) + b"{abc" )
PYEOF
# near-valid stores and checkpoints written by h5py (another writer: other layouts and types)
"$PY" - "$C" <<'PYEOF'
import sys, h5py, numpy as np
C = sys.argv[1]
def store(name, vec, off, fmt="lvt-articles", dim=None, ids=None, vlen=True, **kw):
    with h5py.File(f"{C}/store/{name}.h5", "w") as f:
        f.create_dataset("vectors", data=vec, **kw)
        f.create_dataset("article_offsets", data=np.asarray(off, "<i4"))
        f.create_dataset("article_ids", data=np.arange(len(off) - 1) if ids is None else ids)
        f.attrs["format"] = fmt if vlen else np.bytes_(fmt)
        f.attrs["version"] = 1
        f.attrs["dim"] = vec.shape[1] if dim is None else dim
v = (np.arange(24, dtype="<f4").reshape(6, 4) % 7 - 3) / 3
store("h5py_gzip", v, [0, 4, 4, 6], chunks=(2, 4), compression="gzip")
store("h5py_f16_fixedstr", v.astype("<f2"), [0, 6], vlen=False)
store("h5py_f8", v.astype("<f8"), [0, 1, 6])
store("offsets_not_monotone", v, [0, 5, 3, 6])
store("offsets_past_end", v, [0, 7])
store("dim_mismatch", v, [0, 6], dim=5)
store("wrong_format", v, [0, 6], fmt="lvt-checkpoint")
store("int_vectors", v.astype("<i4"), [0, 6])
store("nan_row", np.where(np.arange(24).reshape(6, 4) == 9, np.nan, v).astype("<f4"), [0, 6])
store("zero_row", np.where(np.arange(24).reshape(6, 4) < 4, 0, v).astype("<f4"), [0, 6])
store("empty", np.zeros((0, 4), "<f4"), [0])
with h5py.File(f"{C}/ckpt/last.h5", "r") as src, h5py.File(f"{C}/ckpt/version2.h5", "w") as f:
    for k, val in src.attrs.items(): f.attrs[k] = val
    f.attrs["version"] = 2
    src.copy("model", f)
with h5py.File(f"{C}/ckpt/last.h5", "r") as src, h5py.File(f"{C}/ckpt/h5py_copy.h5", "w") as f:
    for k, val in src.attrs.items(): f.attrs[k] = val
    for g in src: src.copy(g, f)
    f["model"].attrs["d_model"] = np.int32(8)
PYEOF
ls -l "$C"/* | awk '{s += $5} END {print "corpus bytes:", s}'
for t in config npy npz safetensors store ckpt; do echo "$t: $(ls "$C/$t" | wc -l) inputs"; done
