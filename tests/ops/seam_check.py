#!/usr/bin/env python3
"""seam_check.py — the backend seam (docs/ops.md, "The seam") checked in the sources:
  1. no preprocessor branch on LVT_HAVE_CUDA / LVT_HAVE_NCCL and no include of a CUDA header
     (cuda/..., cuda_runtime.h, cublas, nccl.h) anywhere in src/, include/, tests/ or bench/,
     except the backend registry src/model/ops.c, which may include cuda/cuda_backend.h under
     LVT_HAVE_CUDA only (the build defines LVT_HAVE_CUDA for that file alone, so such a branch
     elsewhere would silently compile its CUDA half away);
  2. no backend chosen by comparing ops->name outside the registry;
  3. both ops tables (src/cpu/cpu_backend.c, cuda/cuda_backend.cu) are designated initialisers
     that name every field of lvt_ops exactly once, in declaration order (optional entries
     explicitly NULL), so a new entry cannot be forgotten and no entry can be swapped;
  4. each per-element formula is written once: the fingerprints below occur only in
     include/lvt/elementwise.h among src/, cuda/ and include/.
usage: seam_check.py SOURCE_DIR        exit 0 when all hold, 1 with one line per violation."""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
REGISTRY = "src/model/ops.c"
ELEMENTWISE = "include/lvt/elementwise.h"
bad = []


def files(*dirs, exts=(".c", ".h", ".cu")):
    for d in dirs:
        for base, _, names in os.walk(os.path.join(ROOT, d)):
            for n in sorted(names):
                if n.endswith(exts):
                    p = os.path.join(base, n)
                    yield os.path.relpath(p, ROOT), open(p, encoding="utf-8").read()


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)


COND = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif)\b.*\bLVT_HAVE_(CUDA|NCCL)\b", re.M)
CUDA_INC = re.compile(r'^\s*#\s*include\s*[<"]([^>"]*(cuda/|cuda_|cublas|nccl|\.cuh)[^>"]*)[>"]', re.M)
NAME_CMP = re.compile(r"strcmp\s*\([^;,]*ops\s*->\s*name\b")

# 1, 2: src/, include/, and the tests and benchmarks
for rel, text in files("src", "include", "tests", "bench"):
    code = strip_comments(text)
    for m in COND.finditer(code):
        if rel != REGISTRY or "LVT_HAVE_NCCL" in m.group(0):
            bad.append(f"{rel}: preprocessor branch on a backend macro: {m.group(0).strip()}")
    for m in CUDA_INC.finditer(code):
        if rel != REGISTRY or not m.group(1).endswith("cuda/cuda_backend.h"):
            bad.append(f"{rel}: includes a CUDA header: {m.group(1)}")
    if rel != REGISTRY and not rel.startswith(("tests/", "bench/")):
        for m in NAME_CMP.finditer(code):
            bad.append(f"{rel}: chooses by backend name: {m.group(0)}")

# 3: the ops tables against the struct
ops_h = strip_comments(open(os.path.join(ROOT, "include/lvt/ops.h"), encoding="utf-8").read())
body = re.search(r"typedef struct lvt_ops \{(.*?)\} lvt_ops;", ops_h, re.S).group(1)
fields = re.findall(r"\(\*\s*(\w+)\s*\)\s*\(|(\w+)\s*;", body)
fields = [a or b for a, b in fields]
if len(fields) < 40:
    bad.append(f"include/lvt/ops.h: only {len(fields)} lvt_ops fields parsed")


def first_branch(text):
    """Keep the #if branch of #if/#else/#endif blocks (both must list the same entries)."""
    out, skip = [], []
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith("#if"):
            skip.append(False)
        elif s.startswith("#else") or s.startswith("#elif"):
            skip[-1] = True
        elif s.startswith("#endif"):
            skip.pop()
        elif not any(skip):
            out.append(line)
    return "\n".join(out)


for rel in ("src/cpu/cpu_backend.c", "cuda/cuda_backend.cu"):
    code = strip_comments(open(os.path.join(ROOT, rel), encoding="utf-8").read())
    m = re.search(r"static const lvt_ops \w+ = \{(.*?)\n\};", code, re.S)
    if not m:
        bad.append(f"{rel}: no static const lvt_ops table")
        continue
    table = m.group(1)
    for branch in (first_branch(table), first_branch(re.sub(r"#\s*if\w*[^\n]*\n(.*?)#\s*else", "#if 1\n", table, flags=re.S))):
        entries = [ln.strip() for ln in branch.split("\n") if ln.strip() and not ln.strip().startswith("#")]
        names = []
        for e in entries:
            d = re.match(r"\.(\w+)\s*=", e)
            if not d:
                bad.append(f"{rel}: ops table entry is not a designated initialiser: {e}")
                continue
            names.append(d.group(1))
        if names != fields:
            missing = [f for f in fields if f not in names]
            extra = [n for n in names if n not in fields or names.count(n) > 1]
            bad.append(f"{rel}: ops table does not name every lvt_ops field once, in order "
                       f"(missing {missing}, extra/duplicate {sorted(set(extra))})")
            break

# 4: each formula once
FINGERPRINTS = {
    "erff(": "exact GELU",
    "1e-7f": "the context-noise clamp of Box-Muller",
    "(gi - ": "the AdamW moment update (torch's lerp)",
    "expf(-(": "the adaptive-lambda sigmoid",
    "norm + 1e-6": "the clip coefficient",
}
for rel, text in files("src", "cuda", "include"):
    if rel == ELEMENTWISE:
        continue
    code = strip_comments(text)
    for fp, what in FINGERPRINTS.items():
        if fp in code:
            bad.append(f"{rel}: {what} written again ('{fp}'); call include/lvt/elementwise.h")

for b in bad:
    print("seam_check:", b)
if not bad:
    print(f"seam_check: ok ({len(fields)} ops entries in both tables, designated, in order; "
          f"no backend macro or CUDA include outside {REGISTRY}; {len(FINGERPRINTS)} formulas once)")
sys.exit(1 if bad else 0)
