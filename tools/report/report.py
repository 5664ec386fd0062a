#!/usr/bin/python3
"""report.py — `lvt report RUN_DIR... --out DIR`: pictures of training runs and rollout sweeps
(docs/report.md). Run by the lvt binary (src/cli/cmd_report.c) or directly with /usr/bin/python3.

A training run directory (training_history.json, metrics.jsonl, optionally 5cat.json) gives
NAME_epochs.png (losses, val cos, margin per epoch; baselines as horizontal lines; curriculum
phases shaded; tripwires and rollbacks marked), NAME_steps.png (the per-term losses of the step
lines of metrics.jsonl) and NAME_5cat.png (the 5CAT offset sweep). Two or more runs also give
compare.png. Sweep directories (sweep.csv of launch/sweep_rollout_h.sh) give sweep.png: val cos,
margin and 5CAT gate values against H, one line per (seed, λ_roll). DIR/index.html shows them all;
DIR/report.json holds every plotted series, read back from the figures' artists.
"""
import csv
import html
import json
import math
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
except ImportError:  # main() reports it in one line
    plt = None

PROG = "lvt report"
BASELINE_NAMES = {"copy_last": "copy-last", "mean_context": "mean-of-context"}
TERMS = ("loss", "mse", "rollout", "dir", "future", "anticopy")
# the default 5CAT gates (docs/eval.md); a sweep's own 5cat.json thresholds take precedence
GATES = {"val_cos_p1": ("cos_p1", 0.50), "val_margin_p1": ("margin", 0.12), "val_r1": ("r1", 0.60),
         "val_rollout_cos": ("rollout_cos", 0.45)}


class ReportError(Exception):
    pass


def fail(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def num(v):
    """A JSON number as float; None / missing -> NaN."""
    return float("nan") if v is None else float(v)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: {e}")


def load_metrics(path):
    """The records of metrics.jsonl (missing file: none). A torn last line is ignored."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if i != len(lines) - 1:
                raise ReportError(f"{path}:{i + 1}: not a JSON line")
    return out


# ---- reading a training run ---------------------------------------------------------------------

def parse_baselines(b):
    """{"copy_last": {"cos": c, "margin": m}, ...} -> [(display name, cos, margin)]; absent: []."""
    out = []
    if isinstance(b, dict):
        for key in sorted(b):
            v = b[key]
            if isinstance(v, dict) and ("cos" in v or "margin" in v):
                out.append((BASELINE_NAMES.get(key, key), num(v.get("cos")), num(v.get("margin"))))
    return out


def phase_spans(history, metrics):
    """Contiguous epochs of one curriculum phase: [{"index", "name", "from", "to"}]. The phase
    index comes from the {"event":"phase"} records (written when a phase begins, so an epoch
    without one is in the phase of the latest earlier record), the name from the history."""
    begins = {}
    for r in metrics:
        if r.get("event") == "phase":
            begins[r.get("epoch")] = r.get("phase")
    spans, current = [], None
    for h in history:
        e = h.get("epoch")
        current = begins.get(e, current)
        key = (current, h.get("phase", ""))
        if spans and (spans[-1]["index"], spans[-1]["name"]) == key and spans[-1]["to"] == e - 1:
            spans[-1]["to"] = e
        else:
            spans.append({"index": key[0], "name": key[1], "from": e, "to": e})
    return spans


def epoch_events(metrics):
    """Tripwire, rollback and non-finite events, each with the epoch it happened at, and the
    epoch records a rollback undid."""
    events, kept, undone, epoch = [], [], [], None
    for r in metrics:
        if r.get("type") == "epoch":
            kept.append(r)
            epoch = r.get("epoch")
        elif r.get("type") == "step":
            epoch = r.get("epoch", epoch)
        ev = r.get("event")
        if ev == "tripwire":
            events.append({"kind": "tripwire", "epoch": r.get("epoch"),
                           "label": "tripwire %s: %s (value %.4g)" % (r.get("tripwire"), r.get("condition"),
                                                                       num(r.get("value")))})
        elif ev == "rollback":
            n = r.get("to_epoch")
            undone += [k for k in kept if k.get("epoch", 0) > n]
            kept = [k for k in kept if k.get("epoch", 0) <= n]
            events.append({"kind": "rollback", "epoch": epoch, "label": "rollback to epoch %s" % n})
        elif ev == "nonfinite":
            events.append({"kind": "nonfinite", "epoch": epoch,
                           "label": "non-finite loss at step %s: reloaded %s" % (r.get("global_step"),
                                                                                r.get("rollback_to"))})
    return events, undone


def step_series(metrics, phase_of_epoch):
    """The step lines of metrics.jsonl against "steps run": the global step, kept increasing over
    rollbacks (steps that a rollback undid still count). Returns the x values, each term's series,
    the x of each rollback / non-finite event and the phase spans in step space."""
    xs, series, marks, epochs = [], {k: [] for k in TERMS + ("cos", "grad_norm")}, [], []
    last_g = last_x = 0
    restart = None
    for r in metrics:
        ev = r.get("event")
        if ev == "rollback":
            restart = r.get("global_step")
            marks.append({"kind": "rollback", "x": last_x, "label": "rollback to epoch %s" % r.get("to_epoch")})
        elif ev == "nonfinite":
            marks.append({"kind": "nonfinite", "x": last_x, "label": "non-finite loss, step %s" % r.get("global_step")})
        elif ev == "tripwire":
            marks.append({"kind": "tripwire", "x": last_x, "label": "tripwire %s (epoch %s)" % (r.get("tripwire"), r.get("epoch"))})
        if r.get("type") != "step":
            continue
        g = r.get("global_step", 0)
        if g > last_g:
            x = last_x + (g - last_g)
        else:
            x = last_x + (g - restart if restart is not None and restart < g else 1)
        restart, last_g, last_x = None, g, x
        xs.append(x)
        epochs.append(r.get("epoch"))
        for k in series:
            series[k].append(num(r.get(k)))
    spans = []
    for x, e in zip(xs, epochs):
        key = phase_of_epoch.get(e, ("", None))
        if spans and spans[-1]["key"] == key:
            spans[-1]["x1"] = x
        else:
            x0 = spans[-1]["x1"] if spans else 0
            spans.append({"key": key, "x0": x0, "x1": x})
    return {"x": xs, "series": series, "marks": marks,
            "spans": [{"index": s["key"][1], "name": s["key"][0], "x0": s["x0"], "x1": s["x1"]} for s in spans]}


def load_run(d, name):
    hist = load_json(os.path.join(d, "training_history.json"))
    history = hist.get("history")
    if not isinstance(history, list) or not history:
        raise ReportError(f"{d}/training_history.json: no epochs in \"history\"")
    metrics = load_metrics(os.path.join(d, "metrics.jsonl"))
    run = {"kind": "train", "name": name, "path": d, "history": history, "top": hist,
           "baselines": parse_baselines(hist.get("baselines")),
           "phases": phase_spans(history, metrics)}
    run["events"], run["undone"] = epoch_events(metrics)
    phase_of_epoch = {}
    for s in run["phases"]:
        for e in range(s["from"], s["to"] + 1):
            phase_of_epoch[e] = (s["name"], s["index"])
    run["steps"] = step_series(metrics, phase_of_epoch)
    fc = os.path.join(d, "5cat.json")
    run["fivecat"] = load_json(fc) if os.path.exists(fc) else None
    return run


# ---- reading a sweep ------------------------------------------------------------------------------

def sweep_seed(d, row):
    """The row's seed: its `seed` column, else train.seed of its run's config.json, else None."""
    if row.get("seed") not in (None, ""):
        return row["seed"]
    cfg = os.path.join(d, "h%s_l%s" % (row["rollout_h"], row["lambda_roll"]), "config.json")
    if os.path.exists(cfg):
        s = load_json(cfg).get("train", {}).get("seed")
        return None if s is None else str(s)
    return None


def sweep_thresholds(d, rows):
    """Gate thresholds for the sweep's 5CAT columns: from the first run's 5cat.json, else GATES."""
    th = {col: t for col, (_, t) in GATES.items()}
    for row in rows:
        fc = os.path.join(d, "h%s_l%s" % (row["rollout_h"], row["lambda_roll"]), "5cat.json")
        if os.path.exists(fc):
            gates = {g.get("key"): g for g in load_json(fc).get("gates", [])}
            for col, (key, _) in GATES.items():
                if key in gates and "threshold_val" in gates[key]:
                    th[col] = float(gates[key]["threshold_val"])
            break
    return th


def load_sweep(d, name):
    path = os.path.join(d, "sweep.csv")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except OSError as e:
        raise ReportError(f"{path}: {e}")
    need = ("rollout_h", "lambda_roll", "val_cos", "margin")
    if not rows or any(k not in rows[0] for k in need):
        raise ReportError(f"{path}: expected the columns of launch/sweep_rollout_h.sh ({', '.join(need)}, ...)")
    for r in rows:
        r["_seed"] = sweep_seed(d, r)
    return {"kind": "sweep", "name": name, "path": d, "rows": rows,
            "columns": columns, "thresholds": sweep_thresholds(d, rows)}


# ---- drawing --------------------------------------------------------------------------------------
# Every artist that carries data gets a gid: "series" (a measured curve), "baseline" / "gate"
# (a horizontal reference line), "event" (a vertical marker) or "phase" (a shaded span). record()
# reads them back from the finished figure into report.json.

PHASE_COLORS = ("#dbe9f6", "#fbe3c8")
BASELINE_COLORS = ("#222222", "#8c564b")
BASELINE_STYLES = ((0, (6, 2)), (0, (4, 1.5, 1, 1.5)))
EVENT_STYLE = {"tripwire": dict(color="#c0392b", ls="--"), "rollback": dict(color="#8e44ad", ls=":"),
               "nonfinite": dict(color="#000000", ls="-.")}


def series(ax, x, y, label, **kw):
    """Plot a measured curve (NaN points are left out of the line, kept in report.json)."""
    (ln,) = ax.plot(x, y, label=label, gid="series", **kw)
    return ln


def shade(ax, spans):
    """Shade curriculum phases: spans of {"x0", "x1", "index", "name"}; alternating colours."""
    for i, s in enumerate(spans):
        label = s["name"] if s["index"] is None else "phase %s: %s" % (s["index"], s["name"])
        ax.axvspan(s["x0"], s["x1"], color=PHASE_COLORS[i % 2], alpha=0.6, lw=0, zorder=0,
                   gid="phase", label="_" + label)
        ax.text((s["x0"] + s["x1"]) / 2, 1.01, label.replace(": ", ":\n"), transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=6.5, color="#555555", clip_on=False)


def mark(ax, marks):
    """Vertical lines at events: {"kind", "x", "label"}."""
    for m in marks:
        ax.axvline(m["x"], gid="event", label=m["label"], lw=1.2, **EVENT_STYLE.get(m["kind"], {}))


def finish(ax, title, xlabel, ylabel, legend=("series", "baseline", "gate", "event")):
    """Title (room above the axes for phase names when phases are shaded), labels, grid and a
    legend of the lines whose gid is in `legend`."""
    shaded = any(p.get_gid() == "phase" for p in ax.patches)
    ax.set_title(title, fontsize=10, pad=22 if shaded else 6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    handles = [a for a in ax.get_lines() if a.get_gid() in legend]
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="best")


def epoch_spans(run):
    return [{"x0": s["from"] - 0.5, "x1": s["to"] + 0.5, "index": s["index"], "name": s["name"]}
            for s in run["phases"]]


def epoch_marks(run):
    return [{"kind": e["kind"], "x": e["epoch"], "label": e["label"]} for e in run["events"]
            if e["epoch"] is not None]


def fig_epochs(run):
    """NAME_epochs.png: loss, val cos, margin and the train terms per epoch."""
    h = run["history"]
    ep = [r["epoch"] for r in h]
    col = lambda k: [num(r.get(k)) for r in h]  # noqa: E731
    fig, axs = plt.subplots(2, 2, figsize=(12, 8.5), layout="constrained")
    spans, marks = epoch_spans(run), epoch_marks(run)
    ax = axs[0][0]
    series(ax, ep, col("train_loss"), "train loss", marker="o")
    series(ax, ep, col("val_loss"), "val loss (MSE)", marker="o")
    ax = axs[0][1]
    series(ax, ep, col("val_cosine"), "val cos", marker="o", color="C0")
    series(ax, ep, col("train_cosine"), "train cos", marker=".", color="C1", alpha=0.7)
    if any(not math.isnan(v) for v in col("mini5cat_cos_p1")):
        series(ax, ep, col("mini5cat_cos_p1"), "mini-5CAT cos(+1)", marker="s", color="C2", ms=4)
    ax = axs[1][0]
    series(ax, ep, col("margin"), "margin(+1 vs last)", marker="o", color="C0")
    if any(not math.isnan(v) for v in col("mini5cat_margin")):
        series(ax, ep, col("mini5cat_margin"), "mini-5CAT margin(+1)", marker="s", color="C2", ms=4)
    ax.axhline(0, color="#888888", lw=0.8, gid="reference", label="_zero")
    for i, (name, cos, margin) in enumerate(run["baselines"]):
        style = dict(ls=BASELINE_STYLES[i % 2], color=BASELINE_COLORS[i % 2], lw=1.4)
        axs[0][1].axhline(cos, gid="baseline", label="%s cos %.4f" % (name, cos), **style)
        axs[1][0].axhline(margin, gid="baseline", label="%s margin %.4f" % (name, margin), **style)
    if run["undone"]:
        u = run["undone"]
        axs[0][1].plot([r["epoch"] for r in u], [num(r.get("val_cosine")) for r in u], "x", color="#7f7f7f",
                       ms=8, gid="series", label="val cos, undone by rollback")
        axs[1][0].plot([r["epoch"] for r in u], [num(r.get("margin")) for r in u], "x", color="#7f7f7f",
                       ms=8, gid="series", label="margin, undone by rollback")
    ax = axs[1][1]
    for k in ("train_mse", "train_rollout", "train_dir", "train_future", "train_anticopy"):
        if any(v not in (0.0,) and not math.isnan(v) for v in col(k)):
            series(ax, ep, col(k), k[6:], marker=".")
    titles = (("loss", "loss"), ("val cos", "cos"), ("margin", "margin"), ("train terms per epoch", "term"))
    for a, (t, yl) in zip(axs.ravel(), titles):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        shade(a, spans)
        mark(a, marks)
        finish(a, t, "epoch", yl)
    fig.suptitle(f"{run['name']}: per epoch ({run['path']})", fontsize=11)
    return fig


def fig_steps(run):
    """NAME_steps.png: every term of the step lines that is non-zero somewhere, the train cos
    and the gradient norm, against steps run. None when metrics.jsonl has no step lines."""
    st = run["steps"]
    if not st["x"]:
        return None
    keys = [k for k in TERMS if any(v != 0 and not math.isnan(v) for v in st["series"][k])]
    keys += [k for k in ("cos", "grad_norm") if any(not math.isnan(v) for v in st["series"][k])]
    ncol = 2
    nrow = -(-len(keys) // ncol)
    fig, axs = plt.subplots(nrow, ncol, figsize=(12, 3.0 * nrow + 0.6), squeeze=False, layout="constrained")
    for ax, k in zip(axs.ravel(), keys):
        series(ax, st["x"], st["series"][k], k, lw=0.9)
        shade(ax, st["spans"])
        mark(ax, st["marks"])
        finish(ax, k, "steps run", k)
    for ax in axs.ravel()[len(keys):]:
        ax.set_visible(False)
    fig.suptitle(f"{run['name']}: step lines of metrics.jsonl", fontsize=11)
    return fig


FIVECAT_OFFSETS = ("-3", "-2", "-1", "0", "+1", "+2", "+3")


def fig_5cat(run):
    """NAME_5cat.png: cos(prediction, chunk at offset k), k = -3..+3, per split of 5cat.json."""
    fc = run["fivecat"]
    if not fc:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for split, sp in sorted(fc.get("splits", {}).items(), key=lambda kv: (kv[0] != "val", kv[0])):
        cos = sp.get("A", {}).get("cos", {})
        if all(k in cos for k in FIVECAT_OFFSETS):
            series(ax, [int(k) for k in FIVECAT_OFFSETS], [num(cos[k]) for k in FIVECAT_OFFSETS],
                   "%s (cos(+1) %.3f, margin %.3f)" % (split.upper(), num(sp["A"].get("cos_p1")),
                                                       num(sp["A"].get("margin"))), marker="o")
    ax.axvline(1, color="#2e7d32", lw=1, ls=":", gid="reference", label="_target")
    ax.set_xticks(range(-3, 4))
    finish(ax, "%s: 5CAT offset sweep (%s, %s/%s checks passed)" % (run["name"], fc.get("predictor", "?"),
           fc.get("checks_passed", "?"), int(num(fc.get("checks_passed", 0)) + num(fc.get("checks_failed", 0)))),
           "offset k (0 = last context chunk, +1 = target)", "mean cos(p, chunk k)")
    fig.tight_layout()
    return fig


def fig_compare(runs):
    """compare.png: val cos and margin per epoch, one line per run (baselines per run)."""
    fig, axs = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, r in enumerate(runs):
        ep = [h["epoch"] for h in r["history"]]
        series(axs[0], ep, [num(h.get("val_cosine")) for h in r["history"]], r["name"], marker="o", color="C%d" % i)
        series(axs[1], ep, [num(h.get("margin")) for h in r["history"]], r["name"], marker="o", color="C%d" % i)
        for j, (name, cos, margin) in enumerate(r["baselines"]):
            style = dict(color="C%d" % i, lw=1, ls=BASELINE_STYLES[j % 2])
            axs[0].axhline(cos, gid="baseline", label="%s: %s cos %.4f" % (r["name"], name, cos), **style)
            axs[1].axhline(margin, gid="baseline", label="%s: %s margin %.4f" % (r["name"], name, margin), **style)
    for a in axs:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    finish(axs[0], "val cos by run", "epoch", "val cos")
    finish(axs[1], "margin by run", "epoch", "margin(+1 vs last)")
    fig.tight_layout()
    return fig


SWEEP_PANELS = (("val_cos", "val cos (last epoch)"), ("margin", "margin(+1 vs last), last epoch"),
                ("val_cos_p1", "5CAT VAL cos(+1)"), ("val_margin_p1", "5CAT VAL margin(+1)"),
                ("val_r1", "5CAT VAL R@1"), ("val_rollout_cos", "5CAT VAL rollout cos"),
                ("checks_passed", "5CAT checks passed"))


def sweep_lines(sweeps):
    """[(label, [(H, row)...])]: one line per (sweep dir when several, seed, λ_roll), by H."""
    groups = {}
    for sw in sweeps:
        for r in sw["rows"]:
            key = (sw["name"] if len(sweeps) > 1 else "", r["_seed"] or "", r["lambda_roll"])
            groups.setdefault(key, []).append((int(r["rollout_h"]), r))
    out = []
    for (d, seed, lam), pts in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], float(kv[0][2]))):
        label = ("%s: " % d if d else "") + ("seed %s, " % seed if seed else "") + "λ_roll %s" % lam
        out.append((label, sorted(pts, key=lambda p: p[0])))
    return out


def fig_sweep(sweeps):
    """sweep.png: the sweep's columns against H, one line per (seed, λ_roll); gates as lines."""
    cols = [c for c, _ in SWEEP_PANELS if all(c in sw["columns"] for sw in sweeps)]
    lines = sweep_lines(sweeps)
    ncol = 2
    nrow = -(-len(cols) // ncol)
    fig, axs = plt.subplots(nrow, ncol, figsize=(12, 3.3 * nrow + 0.6), squeeze=False, layout="constrained")
    styles = ("-", "--", ":", "-.")
    lams = sorted({float(r["lambda_roll"]) for sw in sweeps for r in sw["rows"]})
    seeds = sorted({str(r["_seed"]) for sw in sweeps for r in sw["rows"]})
    for i, (ax, c) in enumerate(zip(axs.ravel(), cols)):
        for label, pts in lines:
            lam = float(pts[0][1]["lambda_roll"])
            color = "C%d" % (seeds.index(str(pts[0][1]["_seed"])) % 10)
            series(ax, [h for h, _ in pts], [float(r[c]) for _, r in pts], label, marker="o", color=color,
                   ls=styles[lams.index(lam) % len(styles)])
        if c in GATES:
            t = sweeps[0]["thresholds"][c]
            ax.axhline(t, color="#c0392b", lw=1, ls="--", gid="gate", label="gate (VAL) %.2f" % t)
        ax.set_xticks(sorted({h for _, pts in lines for h, _ in pts}))
        finish(ax, dict(SWEEP_PANELS)[c], "rollout horizon H", c, legend=("series", "gate") if i == 0 else ("gate",))
    for ax in axs.ravel()[len(cols):]:
        ax.set_visible(False)
    fig.suptitle("rollout sweep: " + ", ".join(sw["path"] for sw in sweeps), fontsize=11)
    return fig


# ---- what was drawn, HTML, main ---------------------------------------------------------------

def clean(values):
    out = []
    for v in values:
        v = float(v)
        out.append(None if math.isnan(v) else v)
    return out


def record(fig):
    """The data of every tagged artist of a finished figure: per axes (by title) its lines
    (label, gid, x, y exactly as plotted) and its shaded phases (label, x0, x1)."""
    axes = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        lines = [{"label": ln.get_label(), "gid": ln.get_gid(), "x": clean(ln.get_xdata()),
                  "y": clean(ln.get_ydata())} for ln in ax.get_lines() if ln.get_gid()]
        spans = []
        for p in ax.patches:
            if p.get_gid() == "phase":
                xs = p.get_patch_transform().transform(p.get_path().vertices)[:, 0]
                spans.append({"label": p.get_label().lstrip("_"), "x0": float(xs.min()), "x1": float(xs.max())})
        axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
                     "lines": lines, "spans": spans})
    return {"axes": axes}


def save(fig, out, fname, figures):
    if fig is None:
        return None
    fig.savefig(os.path.join(out, fname), dpi=110)
    figures[fname] = record(fig)
    plt.close(fig)
    return fname


def esc(x):
    return html.escape(str(x))


def fmt(v, nd=4):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else ("%.*f" % (nd, v) if isinstance(v, float) else str(v))


def html_table(header, rows):
    h = "".join("<th>%s</th>" % esc(c) for c in header)
    b = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % esc(c) for c in r) for r in rows)
    return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>\n" % (h, b)


def html_run(run, files):
    h, last = run["history"], run["history"][-1]
    parts = ["<h2 id=\"%s\">%s</h2>\n<p>%s</p>\n" % (esc(run["name"]), esc(run["name"]), esc(run["path"]))]
    summary = [("epochs", len(h)), ("final val cos", fmt(num(last.get("val_cosine")))),
               ("final margin(+1 vs last)", fmt(num(last.get("margin")))),
               ("best val loss", fmt(num(run["top"].get("best_val_loss")), 6))]
    summary += [("%s cos / margin" % n, "%s / %s" % (fmt(c), fmt(m))) for n, c, m in run["baselines"]]
    parts.append(html_table(("", "value"), summary))
    if run["events"]:
        parts.append("<ul>%s</ul>\n" % "".join("<li>epoch %s: %s</li>" % (esc(e["epoch"]), esc(e["label"]))
                                                for e in run["events"]))
    for f in files:
        parts.append("<p><img src=\"%s\" alt=\"%s\"></p>\n" % (esc(f), esc(f)))
    if run["fivecat"]:
        g = run["fivecat"].get("gates", [])
        parts.append(html_table(("5CAT gate", "VAL", "OOD", "pass"),
                                [(x.get("label", x.get("key")), fmt(x.get("val")), fmt(x.get("ood")),
                                  "PASS" if x.get("pass") else "FAIL") for x in g]))
    keys = ("epoch", "phase", "train_loss", "val_loss", "val_cosine", "margin", "mini5cat_cos_p1", "mini5cat_margin")
    parts.append(html_table(keys, [[fmt(r.get(k), 5) if isinstance(r.get(k), float) else fmt(r.get(k))
                                    for k in keys] for r in h]))
    return "".join(parts)


def html_sweep(sweeps, fname):
    parts = ["<h2 id=\"sweep\">rollout sweep</h2>\n"]
    if fname:
        parts.append("<p><img src=\"%s\" alt=\"%s\"></p>\n" % (esc(fname), esc(fname)))
    for sw in sweeps:
        parts.append("<p>%s</p>\n" % esc(sw["path"]))
        parts.append(html_table(["seed"] + sw["columns"], [[r["_seed"] or ""] + [r[c] for c in sw["columns"]]
                                                          for r in sw["rows"]]))
    return "".join(parts)


CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;"
       "margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:right}"
       "img{max-width:100%;border:1px solid #eee}")


def write_html(out, body, names):
    nav = " · ".join("<a href=\"#%s\">%s</a>" % (esc(n), esc(n)) for n in names)
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>lvt report</title>\n"
            "<style>%s</style>\n</head>\n<body>\n<h1>lvt report</h1>\n<p>%s</p>\n%s</body>\n</html>\n" % (CSS, nav, body))
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as f:
        f.write(page)


def classify(dirs):
    """(training runs, sweeps) from the command line's directories, with unique display names."""
    runs, sweeps, used = [], [], set()
    for d in dirs:
        d = os.path.normpath(d)
        base = "".join(c if c.isalnum() or c in "._-" else "_" for c in os.path.basename(os.path.abspath(d)))
        name, i = base or "run", 2
        while name in used:
            name, i = "%s-%d" % (base, i), i + 1
        used.add(name)
        if os.path.isfile(os.path.join(d, "training_history.json")):
            runs.append(load_run(d, name))
        elif os.path.isfile(os.path.join(d, "sweep.csv")):
            sweeps.append(load_sweep(d, name))
        elif not os.path.isdir(d):
            raise ReportError(f"{d}: no such directory")
        else:
            raise ReportError(f"{d}: neither a training run (training_history.json) nor a sweep (sweep.csv)")
    return runs, sweeps


def usage():
    print("usage: lvt report RUN_DIR... --out DIR\n\n"
          "Draw PNG pictures and one HTML page (DIR/index.html) of training runs (directories of\n"
          "`lvt train`) and rollout sweeps (directories of launch/sweep_rollout_h.sh). DIR/report.json\n"
          "holds every plotted series. Needs python3-matplotlib. Details: docs/report.md.")


def parse_args(argv):
    dirs, out, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            usage()
            sys.exit(0)
        if a == "--out":
            if i + 1 >= len(argv):
                fail("--out needs a directory")
            out, i = argv[i + 1], i + 2
            continue
        if a.startswith("-"):
            fail(f"unknown option '{a}' (see `lvt report --help`)")
        dirs.append(a)
        i += 1
    if not dirs:
        fail("no run directory given (see `lvt report --help`)")
    if not out:
        fail("--out DIR is required")
    return dirs, out


def main(argv):
    dirs, out = parse_args(argv)
    if plt is None:
        fail("needs matplotlib for /usr/bin/python3 (Debian: apt-get install python3-matplotlib)")
    try:
        runs, sweeps = classify(dirs)
        os.makedirs(out, exist_ok=True)
    except (ReportError, OSError) as e:
        fail(str(e))
    figures, body, listing = {}, [], []
    for r in runs:
        files = [f for f in (save(fig_epochs(r), out, r["name"] + "_epochs.png", figures),
                             save(fig_steps(r), out, r["name"] + "_steps.png", figures),
                             save(fig_5cat(r), out, r["name"] + "_5cat.png", figures)) if f]
        listing.append({"name": r["name"], "path": r["path"], "kind": "train", "figures": files})
        body.append(html_run(r, files))
    if len(runs) > 1:
        f = save(fig_compare(runs), out, "compare.png", figures)
        body.insert(0, "<h2 id=\"compare\">all runs</h2>\n<p><img src=\"%s\" alt=\"%s\"></p>\n" % (f, f))
    if sweeps:
        f = save(fig_sweep(sweeps), out, "sweep.png", figures)
        body.append(html_sweep(sweeps, f))
        listing += [{"name": s["name"], "path": s["path"], "kind": "sweep", "figures": [f]} for s in sweeps]
    names = (["compare"] if len(runs) > 1 else []) + [r["name"] for r in runs] + (["sweep"] if sweeps else [])
    write_html(out, "".join(body), names)
    with open(os.path.join(out, "report.json"), "w") as fj:
        json.dump({"format": "lvt-report", "version": 1, "inputs": listing, "figures": figures}, fj, indent=1)
    print("lvt report: wrote %d pictures and %s" % (len(figures), os.path.join(out, "index.html")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
