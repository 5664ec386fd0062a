# convert_check.py — compares a store written by `lvt convert` (read with h5py) against the
# reference expect_*.npz written by convert_make.py. Vectors must match bit for bit (convert
# never normalises; float16/float64 inputs are compared with numpy's own conversion).
# usage: /usr/bin/python3 convert_check.py OUT.h5 EXPECT.npz SOURCE_NAME
import sys

import h5py
import numpy as np

path, ref_path, source = sys.argv[1], sys.argv[2], sys.argv[3]
ref = np.load(ref_path)
bad = []
with h5py.File(path, "r") as f:
    a = dict(f.attrs)
    if a.get("format") not in (b"lvt-articles", "lvt-articles"):
        bad.append("format attribute %r" % a.get("format"))
    if int(a.get("version", -1)) != 1 or int(a.get("normalized", -1)) != 0:
        bad.append("version/normalized attributes %r" % a)
    src = a.get("source")
    src = src.decode() if isinstance(src, bytes) else src
    if src != source:
        bad.append("source attribute %r, expected %r" % (src, source))
    v = f["vectors"][()]
    if v.dtype != np.float32 or v.shape != ref["vectors"].shape:
        bad.append("vectors %s %s, expected float32 %s" % (v.dtype, v.shape, ref["vectors"].shape))
    elif not np.array_equal(v.view(np.uint32), ref["vectors"].view(np.uint32)):
        i = np.argwhere(v != ref["vectors"])[0]
        bad.append("vectors differ first at %s: %r vs %r" % (i, v[tuple(i)], ref["vectors"][tuple(i)]))
    if int(a.get("dim", -1)) != ref["vectors"].shape[1]:
        bad.append("dim attribute %r" % a.get("dim"))
    for name, key in (("article_offsets", "offsets"), ("article_ids", "article_ids")):
        got = f[name][()]
        if not np.array_equal(got, ref[key]):
            bad.append("%s = %s, expected %s" % (name, got[:20], ref[key][:20]))
    if "chunk_ids" in ref.files:
        if "chunk_ids" not in f:
            bad.append("chunk_ids missing")
        elif not np.array_equal(f["chunk_ids"][()], ref["chunk_ids"]):
            bad.append("chunk_ids = %s, expected %s" % (f["chunk_ids"][:20], ref["chunk_ids"][:20]))
    elif "chunk_ids" in f:
        bad.append("unexpected chunk_ids")
if bad:
    print("convert_check %s: FAIL\n  %s" % (path, "\n  ".join(bad)))
    sys.exit(1)
print("convert_check %s: ok (%d articles, %d rows)" % (path, len(ref["article_ids"]), len(ref["vectors"])))
