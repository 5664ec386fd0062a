# convert_make.py — writes the `lvt convert` test inputs into DIR with numpy, and next to each
# input the store we expect convert to produce (expect_*.npz: vectors, offsets, article_ids and
# optionally chunk_ids), built here independently of the C code.
# usage: /usr/bin/python3 convert_make.py DIR
import os
import sys
import zipfile

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1234)
D = 16


def P(name):
    return os.path.join(out, name)


def expect(name, vectors, lengths, ids, chunks=None):
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    kw = dict(vectors=np.asarray(vectors, np.float32), offsets=offsets, article_ids=np.asarray(ids, np.int64))
    if chunks is not None:
        kw["chunk_ids"] = np.asarray(chunks, np.int64)
    np.savez(P("expect_" + name + ".npz"), **kw)


def make_articles(n_art, lo=3, hi=12, first_id=100):
    """Articles as a list of (id, vectors [len, D])."""
    arts = []
    for a in range(n_art):
        n = int(rng.integers(lo, hi + 1))
        v = rng.standard_normal((n, D)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        arts.append((first_id + 7 * a, v))
    return arts


# ---- articles NPZ, shuffled rows, float32, stored and deflated -----------------------------------
arts = make_articles(12)
vec = np.concatenate([v for _, v in arts])
aid = np.concatenate([[i] * len(v) for i, v in arts]).astype(np.int64)
cid = np.concatenate([np.arange(len(v)) * 2 + 1 for _, v in arts]).astype(np.int64)  # odd chunk ids
perm = rng.permutation(len(vec))
np.savez(P("art_shuffled.npz"), vectors=vec[perm], article_indices=aid[perm], chunk_indices=cid[perm])
np.savez_compressed(P("art_shuffled_z.npz"), vectors=vec[perm], article_indices=aid[perm].astype(np.int32),
                    chunk_indices=cid[perm])
# the reference: a stable sort by (article, chunk)
o = np.lexsort((cid[perm], aid[perm]))
ids, lens = np.unique(aid[perm][o], return_counts=True)
expect("art_shuffled", vec[perm][o], lens, ids, cid[perm][o])

# ---- articles NPZ, grouped but not in id order: kept as is; no chunk_indices ---------------------
order = [5, 2, 9, 0, 11]
gv = np.concatenate([arts[i][1] for i in order])
ga = np.concatenate([[arts[i][0]] * len(arts[i][1]) for i in order])
np.savez(P("art_grouped.npz"), vectors=gv, article_indices=ga)
expect("art_grouped", gv, [len(arts[i][1]) for i in order], [arts[i][0] for i in order])

# ---- articles NPZ, float16 with subnormals, deflated -------------------------------------------
h = (vec * 3).astype(np.float16)
h[0, :4] = np.array([6e-8, -3e-6, 5e-5, 1e-7], np.float32).astype(np.float16)  # f16 subnormals
h[1, :3] = np.array([65504, -65504, 6.1035156e-05], np.float32).astype(np.float16)  # max, min normal
assert np.any((np.abs(h) < np.float16(6.104e-05)) & (h != 0)), "no subnormal in the f16 test data"
np.savez_compressed(P("art_f16.npz"), vectors=h, article_indices=aid, chunk_indices=cid)
expect("art_f16", h.astype(np.float32), [len(v) for _, v in arts], [i for i, _ in arts], cid)

# ---- articles NPZ, float64 -------------------------------------------------------------------------
d = vec.astype(np.float64) * (1 + 1e-9)
np.savez(P("art_f64.npz"), vectors=d, article_indices=aid)
expect("art_f64", d.astype(np.float32), [len(v) for _, v in arts], [i for i, _ in arts])

# ---- articles NPZ, .npy format version 2.0 members written by hand (zip, deflated) -------------
with zipfile.ZipFile(P("art_v2.npz"), "w", compression=zipfile.ZIP_DEFLATED) as z:
    for name, arr in (("vectors", vec), ("article_indices", aid)):
        with z.open(name + ".npy", "w") as f:
            np.lib.format.write_array(f, arr, version=(2, 0))
expect("art_v2", vec, [len(v) for _, v in arts], [i for i, _ in arts])


# ---- sequences NPZ with article_ids + target_indices: articles rebuilt ---------------------------
L = 5
sarts = make_articles(9, lo=7, hi=20, first_id=40)
ctx, tgt, wa, wt = [], [], [], []
dropped = {}
for k, (i, v) in enumerate(sarts):
    ts = list(range(L, len(v)))
    if k == 3 and len(ts) >= 1:  # drop windows so the end of the article is not covered
        ts = ts[:-1] if len(ts) > 1 else ts
    if k == 4:  # a hole in the middle: chunks between two covered ranges are missing
        v = np.concatenate([v, rng.standard_normal((14, D)).astype(np.float32)])
        sarts[k] = (i, v)
        ts = [L, L + 1] + [len(v) - 2, len(v) - 1]  # covers 0..6 and len-7..len-1
    for t in ts:
        ctx.append(v[t - L:t])
        tgt.append(v[t])
        wa.append(i)
        wt.append(t)
ctx, tgt, wa, wt = np.array(ctx), np.array(tgt), np.array(wa, np.int64), np.array(wt, np.int64)
sp = rng.permutation(len(ctx))
np.savez(P("seq_ids.npz"), context_sequences=ctx[sp], target_vectors=tgt[sp], article_ids=wa[sp],
         target_indices=wt[sp])
np.savez_compressed(P("seq_ids_z.npz"), contexts=ctx[sp], targets=tgt[sp], article_ids=wa[sp].astype(np.int32),
                    target_indices=wt[sp])
# the reference: for each article, the set of covered chunk positions, cut into maximal runs
ev, el, ei, ec = [], [], [], []
for i, v in sorted(sarts, key=lambda x: x[0]):
    cov = sorted({p for a, t in zip(wa, wt) if a == i for p in range(t - L, t + 1)})
    runs = []
    for p in cov:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    for r in runs:
        ev.append(v[r])
        el.append(len(r))
        ei.append(i)
        ec.extend(r)
expect("seq_ids", np.concatenate(ev), el, ei, ec)
# an inconsistent copy: one context row differs from the article's chunk
bad = ctx[sp].copy()
bad[3, 2] += 0.25
np.savez(P("seq_inconsistent.npz"), context_sequences=bad, target_vectors=tgt[sp], article_ids=wa[sp],
         target_indices=wt[sp])

# ---- sequences NPZ without ids (and with a pickled metadata member to ignore) -------------------
n = 11
c2 = rng.standard_normal((n, L, D)).astype(np.float32)
t2 = rng.standard_normal((n, D)).astype(np.float32)
meta = np.array([{"title": "t%d" % i} for i in range(n)], dtype=object)
np.savez(P("seq_noids.npz"), context_sequences=c2, target_vectors=t2, metadata=meta)
expect("seq_noids", np.concatenate([np.concatenate([c2[w], t2[w][None]]) for w in range(n)]), [L + 1] * n,
       np.arange(n))

# ---- raw .npy ---------------------------------------------------------------------------------------
raw = rng.standard_normal((23, D)).astype(np.float32)
np.save(P("raw.npy"), raw)
expect("raw_one", raw, [23], [0])
expect("raw_len7", raw, [7, 7, 7, 2], [0, 1, 2, 3])
np.save(P("raw_windows.npy"), c2)

# ---- split: article ids 0..39, val=10-19, ood=30-34 -------------------------------------------------
spl = make_articles(40, lo=2, hi=6, first_id=0)
spl = [(a // 7, v) for a, v in spl]  # make_articles spaces ids by 7; use 0..39
sv = np.concatenate([v for _, v in spl])
sa = np.concatenate([[i] * len(v) for i, v in spl]).astype(np.int64)
np.savez_compressed(P("split.npz"), vectors=sv, article_indices=sa)
for name, keep in (("train", lambda i: not (10 <= i <= 19 or 30 <= i <= 34)), ("val", lambda i: 10 <= i <= 19),
                   ("ood", lambda i: 30 <= i <= 34)):
    sel = [(i, v) for i, v in spl if keep(i)]
    expect("split_" + name, np.concatenate([v for _, v in sel]), [len(v) for _, v in sel], [i for i, _ in sel])
print("convert_make: wrote test inputs to", out)
