#!/usr/bin/env python3
"""ckpt_compare.py A.h5 B.h5 TOL — compare the parameters of two lvt checkpoints.

Prints the max abs difference over every tensor and exits 1 when it exceeds TOL (TOL 0 demands
bit-identical weights), 2 when the files do not hold the same tensors."""
import sys

import h5py
import numpy as np


def params(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f["params"].visititems(visit)
    return out


a, b, tol = params(sys.argv[1]), params(sys.argv[2]), float(sys.argv[3])
if sorted(a) != sorted(b) or not a:
    print("tensor sets differ")
    sys.exit(2)
worst, where = 0.0, ""
for k in a:
    if a[k].shape != b[k].shape:
        print(f"{k}: shapes differ")
        sys.exit(2)
    d = float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) if a[k].size else 0.0
    if not np.all(np.isfinite(a[k])) or not np.all(np.isfinite(b[k])):
        print(f"{k}: non-finite values")
        sys.exit(1)
    if d > worst:
        worst, where = d, k
print(f"max |a-b| = {worst:.3e} ({where or 'all equal'}) over {len(a)} tensors; tolerance {tol:g}")
sys.exit(0 if worst <= tol else 1)
