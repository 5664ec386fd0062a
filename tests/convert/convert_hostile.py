# convert_hostile.py — writes malformed inputs for `lvt convert` into DIR: each must make convert
# exit 1 with one clear message (test_convert.sh checks the exit code and the message).
# usage: /usr/bin/python3 convert_hostile.py DIR
import io
import os
import sys
import zipfile

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
D = 8
v = rng.standard_normal((30, D)).astype(np.float32)
ai = np.repeat(np.arange(5), 6).astype(np.int64)


def P(name):
    return os.path.join(out, name)


def npy_bytes(arr):
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


# a truncated zip: the central directory at the end is gone
np.savez(P("full.npz"), vectors=v, article_indices=ai)
data = open(P("full.npz"), "rb").read()
open(P("trunc.npz"), "wb").write(data[: len(data) * 6 // 10])
# not a zip at all
open(P("notzip.npz"), "w").write("this is a text file, not an archive\n")
# a pickled object array where numbers are needed
np.savez(P("objdtype.npz"), vectors=v, article_indices=np.array(list(ai), dtype=object))
# only pickled metadata, no article_indices
np.savez(P("metaonly.npz"), vectors=v, metadata=np.array([{"a": i} for i in range(30)], dtype=object))
# Fortran order
np.savez(P("fortran.npz"), vectors=np.asfortranarray(v), article_indices=ai)
# big-endian floats
np.savez(P("bigend.npz"), vectors=v.astype(">f4"), article_indices=ai)
# a member whose data is cut short (the zip itself is fine)
with zipfile.ZipFile(P("trunc_member.npz"), "w") as z:
    z.writestr("vectors.npy", npy_bytes(v)[:-100])
    z.writestr("article_indices.npy", npy_bytes(ai))
# a raw .npy cut short
open(P("trunc.npy"), "wb").write(npy_bytes(v)[:-7])
# sequences without targets
np.savez(P("notargets.npz"), context_sequences=rng.standard_normal((4, 5, D)).astype(np.float32))
# neither layout
np.savez(P("nolayout.npz"), embeddings=v)
# NaN in the vectors
vn = v.copy()
vn[13, 2] = np.nan
np.savez(P("nan.npz"), vectors=vn, article_indices=ai)
# an unsupported dtype
np.savez(P("int16.npz"), vectors=(v * 100).astype(np.int16), article_indices=ai)
# article_indices of the wrong length
np.savez(P("shortidx.npz"), vectors=v, article_indices=ai[:-1])
# a chunk index twice in one article
ci = np.tile(np.arange(6), 5)
ci[7] = ci[8]
np.savez(P("dupchunk.npz"), vectors=v, article_indices=ai, chunk_indices=ci)
# a target index whose context would start before chunk 0
np.savez(P("badtix.npz"), context_sequences=rng.standard_normal((3, 5, D)).astype(np.float32),
         target_vectors=rng.standard_normal((3, D)).astype(np.float32), article_ids=np.array([1, 1, 1]),
         target_indices=np.array([5, 6, 3]))
# a stored member with one flipped data byte: the values stay finite, only the CRC-32 tells
np.savez(P("crc.npz"), vectors=v, article_indices=ai)
b = bytearray(open(P("crc.npz"), "rb").read())
k = bytes(b).find(npy_bytes(v)[-64:])  # the tail of the vectors data, inside the zip
assert k > 0
b[k + 1] ^= 0x01  # the low mantissa byte of a float32: still a finite number
open(P("crc.npz"), "wb").write(bytes(b))
# a deflated member with damaged compressed bytes
big = rng.standard_normal((2000, D)).astype(np.float32)
np.savez_compressed(P("inflate.npz"), vectors=big, article_indices=np.zeros(2000, np.int64))
b = bytearray(open(P("inflate.npz"), "rb").read())
for k in range(2000, 2400):  # inside the vectors member's compressed stream (written first)
    b[k] ^= 0x5A
open(P("inflate.npz"), "wb").write(bytes(b))
print("convert_hostile: wrote hostile inputs to", out)
