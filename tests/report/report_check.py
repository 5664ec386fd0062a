"""report_check.py — checks the output of `lvt report` against the JSON it was drawn from.

usage: report_check.py OUT RUN_A RUN_B SWEEP_A SWEEP_B
  OUT     the --out directory of `lvt report RUN_A RUN_B SWEEP_A SWEEP_B --out OUT`
  RUN_A   a real short training run with a tripwire + rollback and a 5cat.json; no baselines
  RUN_B   a copy of RUN_A whose training_history.json has "baselines"
  SWEEP_* fake sweeps (report_fake.py): seeds from the run configs / from a seed column
Every check compares report.json (the series read back from the drawn figures) with
training_history.json, metrics.jsonl, 5cat.json and sweep.csv; PNG files are checked chunk by
chunk (signature, CRC-32, IHDR, IEND) and decoded; index.html is parsed.
"""
import csv
import json
import os
import struct
import sys
import zlib
from html.parser import HTMLParser

out, run_a, run_b, sweep_a, sweep_b = sys.argv[1:6]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def png_ok(path):
    """A valid PNG: signature, every chunk's CRC, IHDR first with a non-empty size, IEND last."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "bad signature"
    at, types = 8, []
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + n]
        (crc,) = struct.unpack(">I", data[at + 8 + n:at + 12 + n])
        if zlib.crc32(kind + body) != crc:
            return "CRC error in chunk %r" % kind
        types.append(kind)
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
            if w < 200 or h < 200:
                return "tiny image %dx%d" % (w, h)
        at += 12 + n
    if types[0] != b"IHDR" or types[-1] != b"IEND" or b"IDAT" not in types:
        return "chunk order %r" % types[:3]
    import matplotlib.image
    img = matplotlib.image.imread(path)
    if img.ndim != 3 or img.std() == 0:
        return "decodes to a blank image"
    return None


class Page(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.imgs, self.errors, self.doctype = [], [], [], False

    def handle_decl(self, decl):
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs).get("src"))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("unbalanced </%s> (open: %s)" % (tag, self.stack[-3:]))
        else:
            self.stack.pop()


def axes(fig, title):
    for a in rep["figures"][fig]["axes"]:
        if a["title"] == title:
            return a
    raise AssertionError("%s has no axes %r: %s" % (fig, title, [a["title"] for a in rep["figures"][fig]["axes"]]))


def line(ax, label):
    found = [ln for ln in ax["lines"] if ln["label"] == label]
    check(len(found) == 1, "axes %r: %d lines labelled %r" % (ax["title"], len(found), label))
    return found[0] if found else {"x": [], "y": []}


def same(a, b, what):
    check(len(a) == len(b) and all(x == y for x, y in zip(a, b)), "%s: plotted %s != JSON %s" % (what, a, b))


rep = json.load(open(os.path.join(out, "report.json")))
# ---- files: every picture valid, the page valid and showing every picture
expect = ["%s_%s.png" % (r, k) for r in ("run_a", "run_b") for k in ("epochs", "steps", "5cat")]
expect += ["compare.png", "sweep.png"]
pngs = sorted(f for f in os.listdir(out) if f.endswith(".png"))
check(pngs == sorted(expect), "pictures %s, expected %s" % (pngs, sorted(expect)))
check(sorted(rep["figures"]) == sorted(expect), "report.json figures %s" % sorted(rep["figures"]))
for f in pngs:
    err = png_ok(os.path.join(out, f))
    check(err is None, "%s: %s" % (f, err))
page = Page()
page.feed(open(os.path.join(out, "index.html"), encoding="utf-8").read())
page.close()
check(page.doctype, "index.html: no <!DOCTYPE html>")
check(not page.errors and not page.stack, "index.html: %s, unclosed %s" % (page.errors[:3], page.stack))
check(sorted(page.imgs) == pngs, "index.html shows %s, the pictures are %s" % (sorted(page.imgs), pngs))

# ---- a real run: the per-epoch series equal training_history.json
hist = json.load(open(os.path.join(run_a, "training_history.json")))["history"]
ev = [json.loads(x) for x in open(os.path.join(run_a, "metrics.jsonl"))]
ep = [float(h["epoch"]) for h in hist]
for title, label, key in (("loss", "train loss", "train_loss"), ("loss", "val loss (MSE)", "val_loss"),
                          ("val cos", "val cos", "val_cosine"), ("val cos", "train cos", "train_cosine"),
                          ("val cos", "mini-5CAT cos(+1)", "mini5cat_cos_p1"),
                          ("margin", "margin(+1 vs last)", "margin"), ("margin", "mini-5CAT margin(+1)", "mini5cat_margin")):
    ln = line(axes("run_a_epochs.png", title), label)
    same(ln["x"], ep, "run_a %s x" % label)
    same(ln["y"], [h[key] for h in hist], "run_a %s" % label)
# phases: the test's curriculum is warmup (epoch 1), rollout (epochs 2..)
spans = axes("run_a_epochs.png", "val cos")["spans"]
want = [{"label": "phase 1: warmup", "x0": 0.5, "x1": 1.5},
        {"label": "phase 2: rollout", "x0": 1.5, "x1": len(hist) + 0.5}]
check(spans == want, "run_a phases %s, expected %s" % (spans, want))
check([h["phase"] for h in hist] == ["warmup"] + ["rollout"] * (len(hist) - 1), "history phases")
# the tripwire and the rollback it caused are marked at the epoch that fired it
trip = [e for e in ev if e.get("event") == "tripwire"]
check(len(trip) == 1, "the test run should fire one tripwire: %s" % trip)
if trip:
    vc = axes("run_a_epochs.png", "val cos")
    t = [ln for ln in vc["lines"] if ln["gid"] == "event" and ln["label"].startswith("tripwire 1:")]
    check(len(t) == 1 and t[0]["x"] == [trip[0]["epoch"]] * 2, "tripwire marker %s" % t)
    rb = [ln for ln in vc["lines"] if ln["gid"] == "event" and ln["label"].startswith("rollback to epoch")]
    check(len(rb) == 1 and rb[0]["x"] == [trip[0]["epoch"]] * 2, "rollback marker %s" % rb)
    undone = [e for e in ev[:ev.index(trip[0])] if e.get("type") == "epoch" and e["epoch"] == trip[0]["epoch"]]
    same(line(vc, "val cos, undone by rollback")["y"], [u["val_cosine"] for u in undone], "undone epoch")
check(not [ln for f in ("run_a_epochs.png", "compare.png") for a in rep["figures"][f]["axes"] for ln in a["lines"]
           if ln["gid"] == "baseline" and not ln["label"].startswith("run_b")], "baselines drawn for a run without them")
# the step lines of metrics.jsonl
steps = [e for e in ev if e.get("type") == "step"]
for k in ("loss", "mse", "rollout", "grad_norm"):
    ln = line(axes("run_a_steps.png", k), k)
    same(ln["y"], [s[k] for s in steps], "run_a step %s" % k)
    check(ln["x"][0] == steps[0]["global_step"], "first step x")
# steps run: the global step, continued over a rollback (docs/report.md)
x, restart, prev = line(axes("run_a_steps.png", "mse"), "mse")["x"], None, None
for i, e in enumerate(s for s in ev if s.get("type") == "step" or s.get("event") == "rollback"):
    if e.get("event") == "rollback":
        restart = e["global_step"]
        continue
    g = e["global_step"]
    if prev is not None:
        k = len([s for s in ev[:ev.index(e)] if s.get("type") == "step"])
        want = g - prev if restart is None else g - restart
        check(x[k] - x[k - 1] == want, "steps run at record %d: %s -> %s, expected +%s" % (k, x[k - 1], x[k], want))
    prev, restart = g, None
# the 5CAT offset sweep
fc = json.load(open(os.path.join(run_a, "5cat.json")))
a5 = axes("run_a_5cat.png", [a["title"] for a in rep["figures"]["run_a_5cat.png"]["axes"]][0])
for split in ("val", "ood"):
    ln = [x for x in a5["lines"] if x["label"].startswith(split.upper() + " ")]
    check(len(ln) == 1, "5cat %s lines %s" % (split, ln))
    if ln:
        same(ln[0]["x"], [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0], "5cat offsets")
        same(ln[0]["y"], [fc["splits"][split]["A"]["cos"][k] for k in ("-3", "-2", "-1", "0", "+1", "+2", "+3")],
             "5cat %s cos" % split)

# ---- baselines as horizontal lines when the history has them
hb = json.load(open(os.path.join(run_b, "training_history.json")))["baselines"]
for title, field in (("val cos", "cos"), ("margin", "margin")):
    ax = axes("run_b_epochs.png", title)
    for key, name in (("copy_last", "copy-last"), ("mean_context", "mean-of-context")):
        v = hb[key][field]
        ln = line(ax, "%s %s %.4f" % (name, field, v))
        check(ln.get("gid") == "baseline", "baseline gid")
        same(ln["y"], [v, v], "run_b %s %s" % (name, field))
cmp_ = axes("compare.png", "val cos by run")
for r, d in (("run_a", run_a), ("run_b", run_b)):
    same(line(cmp_, r)["y"], [h["val_cosine"] for h in json.load(open(os.path.join(d, "training_history.json")))["history"]],
         "compare %s" % r)

# ---- sweeps: every panel, one line per (sweep, seed, λ_roll), values equal sweep.csv
panels = {"val_cos": "val cos (last epoch)", "margin": "margin(+1 vs last), last epoch",
          "val_cos_p1": "5CAT VAL cos(+1)", "val_margin_p1": "5CAT VAL margin(+1)", "val_r1": "5CAT VAL R@1",
          "val_rollout_cos": "5CAT VAL rollout cos", "checks_passed": "5CAT checks passed"}
n_lines = 0
for d in (sweep_a, sweep_b):
    name = os.path.basename(d)
    rows = list(csv.DictReader(open(os.path.join(d, "sweep.csv"))))
    for r in rows:
        if "seed" not in r:
            r["seed"] = str(json.load(open(os.path.join(d, "h%s_l%s" % (r["rollout_h"], r["lambda_roll"]),
                                                         "config.json")))["train"]["seed"])
    for seed in sorted({r["seed"] for r in rows}):
        for lam in sorted({r["lambda_roll"] for r in rows}):
            pts = sorted((int(r["rollout_h"]), r) for r in rows if r["seed"] == seed and r["lambda_roll"] == lam)
            n_lines += 1
            for col, title in panels.items():
                ln = line(axes("sweep.png", title), "%s: seed %s, λ_roll %s" % (name, seed, lam))
                same(ln["x"], [float(h) for h, _ in pts], "sweep %s x" % col)
                same(ln["y"], [float(r[col]) for _, r in pts], "sweep %s %s seed %s λ %s" % (name, col, seed, lam))
check(n_lines == 6, "expected 6 sweep lines (1 + 2 seeds × 2 λ), got %d" % n_lines)
for title, t in (("5CAT VAL cos(+1)", 0.5), ("5CAT VAL margin(+1)", 0.12), ("5CAT VAL R@1", 0.6),
                 ("5CAT VAL rollout cos", 0.45)):
    g = [ln for ln in axes("sweep.png", title)["lines"] if ln["gid"] == "gate"]
    check(len(g) == 1 and g[0]["y"] == [t, t], "%s gate line %s" % (title, g))
for col, title in panels.items():
    gids = [ln["gid"] for ln in axes("sweep.png", title)["lines"]]
    check(gids.count("series") == n_lines, "%s: %d lines, expected %d" % (title, gids.count("series"), n_lines))
    check(set(gids) <= {"series", "gate"}, "%s: unexpected lines %s" % (title, gids))

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("report_check: %d pictures, %d figures' series equal their JSON" % (len(pngs), len(rep["figures"])))
