#!/usr/bin/python3
"""build.py — the real-text data set: documents shipped by Debian packages -> paragraph chunks ->
TF-IDF + truncated SVD (fitted on train only) -> unit vectors -> lvt-articles stores via
`lvt convert`. Sources in sources.py, the chunking rule in chunking.py; docs/realtext.md.

usage: /usr/bin/python3 tools/realtext/build.py [--out DIR] [--lvt PATH] [--profile full|small]

Writes DIR/realtext-{train,val,ood}.h5, DIR/manifest.json (settings, counts, hashes, one record per
article: id, split, collection, group, path, chunks; the `lvt inspect` statistics of each store)
and DIR/chunks.jsonl.gz (the text of every chunk). Same machine packages -> the same stores: the
printed content hash covers every vector and index.
"""
import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chunking  # noqa: E402
import sources  # noqa: E402

MIN_CHUNKS = 6        # context_len 5 + 1: every article has at least one window
MAX_CHUNKS = 256      # a longer document keeps its first 256 chunks
VAL_PERCENT = 12      # doc packages whose hash falls below this go to val
ID_BASE = {"train": 0, "val": 1_000_000, "ood": 2_000_000}
SMALL_EVERY = {"licenses": 1, "doc": 20, "man": 40}  # --profile small: every k-th document
TFIDF = dict(lowercase=True, token_pattern=r"(?u)\b[^\W\d_]{2,}\b", stop_words="english",
             min_df=2, max_df=0.5, sublinear_tf=True, dtype=np.float64)
SVD_N_ITER = 7


def log(msg):
    print(msg, flush=True)


def split_of(doc, val_percent):
    """train / val / ood: licenses -> train, man -> ood, doc -> val when the package's hash is
    below val_percent (sha256 of "val:" + package, mod 100), else train."""
    if doc.collection == "licenses":
        return "train"
    if doc.collection == "man":
        return "ood"
    h = int(hashlib.sha256(("val:" + doc.group).encode()).hexdigest(), 16) % 100
    return "val" if h < val_percent else "train"


def read_documents(docs, profile):
    """(doc, chunks) for every document with at least MIN_CHUNKS chunks; duplicate chunks (same
    text, ignoring case, anywhere earlier in the fixed document order) are dropped. Also returns
    the sha256 of every document read (path and bytes)."""
    seen, out, h = set(), [], hashlib.sha256()
    index = {}
    for d in docs:
        k = index.get(d.collection, 0)
        index[d.collection] = k + 1
        if profile == "small" and k % SMALL_EVERY[d.collection]:
            continue
        data = sources.read_bytes(d.path)
        h.update(d.path.encode() + b"\0" + hashlib.sha256(data).digest())
        text = sources.read_text(data)
        if text is None:
            continue
        if d.kind == "man":
            text = sources.roff_to_text(text)
        elif d.kind == "html":
            text = sources.html_to_text(text)
        kept = []
        for c in chunking.chunks(text):
            key = c.lower()
            if key not in seen:
                seen.add(key)
                kept.append(c)
        if len(kept) >= MIN_CHUNKS:
            out.append((d, kept[:MAX_CHUNKS]))
    return out, h.hexdigest()


def vectorise(train_texts, all_texts, dim, seed):
    """TF-IDF + truncated SVD fitted on train_texts, applied to all_texts: float32 rows, unit
    length; rows whose TF-IDF vector is zero (no known term) come back as zeros."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    t0 = time.time()
    tfidf = TfidfVectorizer(**TFIDF).fit(train_texts)
    x = tfidf.transform(all_texts)
    log(f"tf-idf: {len(tfidf.vocabulary_)} terms from {len(train_texts)} train chunks "
        f"({time.time() - t0:.1f} s)")
    t0 = time.time()
    svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=SVD_N_ITER,
                       random_state=seed).fit(tfidf.transform(train_texts))
    v = svd.transform(x)
    log(f"svd: {dim} components, explained variance {svd.explained_variance_ratio_.sum():.4f} "
        f"({time.time() - t0:.1f} s)")
    nrm = np.linalg.norm(v, axis=1)
    zero = (np.asarray(abs(x).sum(axis=1)).ravel() == 0) | (nrm < 1e-12)
    v[~zero] /= nrm[~zero, None]
    v[zero] = 0
    return v.astype(np.float32), zero, len(tfidf.vocabulary_), float(svd.explained_variance_ratio_.sum())


def assemble(docs_chunks, val_percent, dim, seed):
    """Split, vectorise, drop zero rows and short articles; the arrays of the articles NPZ and one
    manifest record per article (article ids: train from 0, val from 1,000,000, OOD from 2,000,000)."""
    split = [split_of(d, val_percent) for d, _ in docs_chunks]
    texts = [c for _, ch in docs_chunks for c in ch]
    train_texts = [c for (d, ch), s in zip(docs_chunks, split) if s == "train" for c in ch]
    vec, zero, n_terms, evr = vectorise(train_texts, texts, dim, seed)
    rows, art, chk, records, kept_text = [], [], [], [], []
    next_id = dict(ID_BASE)
    at = 0
    for (d, ch), s in zip(docs_chunks, split):
        idx = [at + i for i in range(len(ch)) if not zero[at + i]]
        at += len(ch)
        if len(idx) < MIN_CHUNKS:
            continue
        aid = next_id[s]
        next_id[s] += 1
        assert aid < ID_BASE[s] + 1_000_000, "more than a million articles in one split"
        rows.extend(idx)
        art.extend([aid] * len(idx))
        chk.extend(range(len(idx)))
        kept_text.append((aid, [texts[i] for i in idx]))
        records.append({"id": aid, "split": s, "collection": d.collection, "group": d.group,
                        "path": d.path, "chunks": len(idx)})
    arrays = {"vectors": np.ascontiguousarray(vec[rows]),
              "article_indices": np.asarray(art, dtype=np.int64),
              "chunk_indices": np.asarray(chk, dtype=np.int64)}
    info = {"tfidf_terms": n_terms, "svd_explained_variance": evr,
            "zero_rows_dropped": int(zero.sum()), "train_chunks_fitted": len(train_texts)}
    return arrays, records, kept_text, info


def content_hash(arrays):
    """sha256 over the vectors (float32) and both index arrays (int64), little-endian, C order."""
    h = hashlib.sha256()
    for k in ("vectors", "article_indices", "chunk_indices"):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode() + str(a.shape).encode() + a.astype(a.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def write_chunks(path, kept_text):
    """chunks.jsonl.gz: one line per chunk, {"article": id, "chunk": i, "text": ...}."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        for aid, ch in kept_text:
            for i, c in enumerate(ch):
                f.write((json.dumps({"article": aid, "chunk": i, "text": c}) + "\n").encode())


def convert_and_inspect(lvt, out, npz):
    """`lvt convert` into realtext-{train,val,ood}.h5, then `lvt inspect --json` of each."""
    base = os.path.join(out, "realtext.h5")
    cmd = [lvt, "convert", npz, "--out", base,
           "--split", "val=%d-%d" % (ID_BASE["val"], ID_BASE["val"] + 999_999),
           "--split", "ood=%d-%d" % (ID_BASE["ood"], ID_BASE["ood"] + 999_999)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit("build.py: lvt convert failed: " + (r.stderr.strip() or r.stdout.strip()))
    stats = {}
    for s in ("train", "val", "ood"):
        p = os.path.join(out, "realtext-%s.h5" % s)
        r = subprocess.run([lvt, "inspect", p, "--json"], capture_output=True, text=True)
        if r.returncode:
            sys.exit("build.py: lvt inspect failed: " + r.stderr.strip())
        stats[s] = json.loads(r.stdout)
    return stats


def print_summary(records, stats):
    log("%-6s %9s %8s %8s %9s %9s %9s %9s  %s" % ("store", "articles", "chunks", "windows",
        "adj cos", "copy-last", "mean-ctx", "fwd sig", "collections (groups)"))
    for s in ("train", "val", "ood"):
        st = stats[s]
        rs = [r for r in records if r["split"] == s]
        cols = sorted({r["collection"] for r in rs})
        log("%-6s %9d %8d %8d %9.4f %9.4f %9.4f %9.4f  %s (%d)" % (
            s, st["articles"], st["chunks"], st["windows"], st["adjacent_coherence"],
            st["copy_last_cos"], st["mean_ctx_cos"], st["forward_signal"], ",".join(cols),
            len({r["group"] for r in rs})))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="data/realtext", help="output directory (default data/realtext)")
    ap.add_argument("--lvt", default=os.path.join(here, "..", "..", "build", "lvt"), help="the lvt binary")
    ap.add_argument("--profile", choices=("full", "small"), default="full",
                    help="small: every document of licenses, every 20th of doc, every 40th of man")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--seed", type=int, default=0, help="seed of the randomized SVD")
    ap.add_argument("--val-percent", type=int, default=VAL_PERCENT)
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (fixed for reproducibility)")
    ap.add_argument("--keep-npz", action="store_true", help="keep DIR/realtext.npz (the convert input)")
    a = ap.parse_args()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        sys.exit("build.py: needs Debian's python3-sklearn (apt-get install python3-sklearn)")
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    docs = sources.collect(sources.dpkg_owners())
    docs_chunks, input_hash = read_documents(docs, a.profile)
    log(f"documents: {len(docs)} candidates, {len(docs_chunks)} with >= {MIN_CHUNKS} chunks "
        f"({time.time() - t0:.1f} s); input sha256 {input_hash}")
    with threadpool_limits(limits=a.threads):
        arrays, records, kept_text, info = assemble(docs_chunks, a.val_percent, a.dim, a.seed)
    digest = content_hash(arrays)
    npz = os.path.join(a.out, "realtext.npz")
    np.savez(npz, **arrays)
    stats = convert_and_inspect(a.lvt, a.out, npz)
    if not a.keep_npz:
        os.remove(npz)
    write_chunks(os.path.join(a.out, "chunks.jsonl.gz"), kept_text)
    settings = {"profile": a.profile, "dim": a.dim, "seed": a.seed, "val_percent": a.val_percent,
                "min_chunks": MIN_CHUNKS, "max_chunks": MAX_CHUNKS, "min_words": chunking.MIN_WORDS,
                "max_words": chunking.MAX_WORDS, "svd_n_iter": SVD_N_ITER, "threads": a.threads,
                "tfidf": {k: (v if k != "dtype" else "float64") for k, v in TFIDF.items()}}
    manifest = {"format": "lvt-realtext", "version": 1, "settings": settings, "info": info,
                "input_sha256": input_hash, "content_sha256": digest, "inspect": stats,
                "articles": records}
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print_summary(records, stats)
    log(f"content sha256 {digest}")
    log(f"done in {time.time() - t0:.1f} s: {a.out}/realtext-{{train,val,ood}}.h5, manifest.json")


if __name__ == "__main__":
    main()
