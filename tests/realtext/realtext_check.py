"""realtext_check.py DIR — the stores of tools/realtext/build.py read back with h5py: format and
D = 768, unit rows, the articles and chunk counts of manifest.json, the content hash recomputed
from the stores, chunks.jsonl.gz in step, and the splits disjoint: no package on both sides of
train/val, OOD from a collection that train and val do not use."""
import gzip
import hashlib
import json
import os
import sys

import h5py
import numpy as np

d = sys.argv[1]
man = json.load(open(os.path.join(d, "manifest.json")))
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)


arts = {}
for s in ("train", "val", "ood"):
    with h5py.File(os.path.join(d, "realtext-%s.h5" % s), "r") as f:
        check(f.attrs["format"] in ("lvt-articles", b"lvt-articles"), "%s: format" % s)
        v, off, ids = f["vectors"][()], f["article_offsets"][()], f["article_ids"][()]
    check(v.dtype == np.float32 and v.ndim == 2 and v.shape[1] == 768, "%s: vectors %s %s" % (s, v.dtype, v.shape))
    n = np.linalg.norm(v.astype(np.float64), axis=1)
    check(np.all(np.abs(n - 1) < 1e-5), "%s: row norms in [%g, %g]" % (s, n.min(), n.max()))
    rec = [a for a in man["articles"] if a["split"] == s]
    check(list(ids) == [a["id"] for a in rec], "%s: article ids differ from the manifest" % s)
    check(list(np.diff(off)) == [a["chunks"] for a in rec], "%s: chunk counts differ from the manifest" % s)
    check(len(rec) > 0 and min(a["chunks"] for a in rec) >= 6, "%s: empty, or an article without a window" % s)
    for i, a in enumerate(ids):
        arts[int(a)] = v[off[i]:off[i + 1]]

# the printed hash is the hash of exactly what the stores hold (build.py's content_hash)
order = [a["id"] for a in man["articles"]]
vec = np.concatenate([arts[i] for i in order])
art = np.concatenate([np.full(len(arts[i]), i, np.int64) for i in order])
chk = np.concatenate([np.arange(len(arts[i]), dtype=np.int64) for i in order])
h = hashlib.sha256()
for k, a in (("vectors", vec), ("article_indices", art), ("chunk_indices", chk)):
    h.update(k.encode() + str(a.shape).encode() + a.tobytes())
check(h.hexdigest() == man["content_sha256"], "content hash recomputed from the stores differs")
lines = gzip.open(os.path.join(d, "chunks.jsonl.gz")).read().decode().splitlines()
check(len(lines) == len(vec), "chunks.jsonl.gz has %d lines for %d rows" % (len(lines), len(vec)))

by = {s: [a for a in man["articles"] if a["split"] == s] for s in ("train", "val", "ood")}
col = {s: {a["collection"] for a in r} for s, r in by.items()}
grp = {s: {a["group"] for a in r} for s, r in by.items()}
check(col["train"] <= {"licenses", "doc"} and col["val"] == {"doc"} and col["ood"] == {"man"},
      "collections per split: %s" % col)
check(not (col["ood"] & (col["train"] | col["val"])), "OOD shares a collection with train/val")
check(not (grp["train"] & grp["val"]), "packages on both sides of train/val: %s" % sorted(grp["train"] & grp["val"]))
paths = [a["path"] for a in man["articles"]]
check(len(paths) == len(set(paths)), "a document appears twice")
if fails:
    print("\n".join("FAIL: " + x for x in fails))
    sys.exit(1)
print("realtext_check: %s" % ", ".join("%s %d articles / %d chunks" % (s, len(by[s]), sum(a["chunks"] for a in by[s]))
                                      for s in by))
