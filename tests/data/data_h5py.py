"""data_h5py.py — h5py side of the store interoperability test (tests/data/test_store.c).

  data_h5py.py write PATH       write a store the way a Python user would (h5py, str attributes
                                as variable-length strings, gzip chunks, int32 offsets); values
                                v[i, j] = float32((i*31 + j*17) % 101 / 101 - 0.45), articles of
                                lengths 4, 0, 6, 3; article_ids 100+a; chunk_ids = row in article
  data_h5py.py check PATH OUT   read an lvt-written store with h5py, check the documented layout
                                and dump vectors / offsets / ids as raw little-endian bytes to
                                OUT.vec, OUT.off, OUT.ids for a byte-for-byte comparison
Exit 0 on success, 1 on a layout mismatch (message on stderr)."""
import sys

import h5py
import numpy as np


def write(path):
    lens = [4, 0, 6, 3]
    n, d = sum(lens), 5
    i = np.arange(n)[:, None]
    j = np.arange(d)[None, :]
    v = (((i * 31 + j * 17) % 101) / 101.0 - 0.45).astype(np.float32)
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
    cids = np.concatenate([np.arange(k) for k in lens]).astype(np.int64)
    with h5py.File(path, "w") as f:
        f.create_dataset("vectors", data=v, chunks=(2, d), compression="gzip")
        f.create_dataset("article_offsets", data=off)
        f.create_dataset("article_ids", data=np.arange(100, 104, dtype=np.int64))
        f.create_dataset("chunk_ids", data=cids)
        f.attrs["format"] = "lvt-articles"
        f.attrs["version"] = 1
        f.attrs["dim"] = np.int64(d)
        f.attrs["normalized"] = 0
        f.attrs["source"] = "h5py writer"


def fail(msg):
    sys.stderr.write("data_h5py check: %s\n" % msg)
    sys.exit(1)


def check(path, out):
    with h5py.File(path, "r") as f:
        fmt = f.attrs["format"]
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt != "lvt-articles":
            fail("format attribute %r" % (fmt,))
        if int(f.attrs["version"]) != 1:
            fail("version %r" % f.attrs["version"])
        v = f["vectors"]
        if v.dtype != np.float32 or v.ndim != 2 or int(f.attrs["dim"]) != v.shape[1]:
            fail("vectors %s %s dim %r" % (v.dtype, v.shape, f.attrs["dim"]))
        if v.chunks is None:
            fail("vectors not chunked")
        off = f["article_offsets"]
        ids = f["article_ids"]
        if off.dtype != np.int64 or ids.dtype != np.int64:
            fail("offsets/ids dtype %s %s" % (off.dtype, ids.dtype))
        if off[0] != 0 or off[-1] != v.shape[0] or ids.shape[0] != off.shape[0] - 1:
            fail("offsets inconsistent")
        v[...].astype("<f4").tofile(out + ".vec")
        off[...].astype("<i8").tofile(out + ".off")
        ids[...].astype("<i8").tofile(out + ".ids")


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3])
