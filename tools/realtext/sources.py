"""sources.py — which documents the real-text set is built from (docs/realtext.md, "Sources").

Three collections, each a fixed list of roots walked in sorted order:

* ``licenses``  /usr/share/common-licenses            (plain text)            -> train
* ``doc``       /usr/share/doc/<package>/**            (README*, NEWS*, TODO*, FAQ*, *.txt, *.md,
                                                        *.rst, *.html; .gz decompressed)
                                                                               -> train or val,
                                                                                  by package
* ``man``       /usr/share/man/man{1,8}/*              (English roff pages)     -> OOD

Only regular files owned by an installed dpkg package count (symbolic links are skipped, so a
document reached twice is read once); packages from third-party repositories are excluded by name
(THIRD_PARTY). Every document has a *group*: its package (for doc and man) or the collection name
(licenses); the train/val split is drawn per group, so a package is never on both sides.
"""
import fnmatch
import gzip
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser

# Installed here from repositories other than Debian's (Google Cloud SDK, NodeSource): not
# "shipped by Debian". Matched against the owning package's name.
THIRD_PARTY = ("google-cloud-cli*", "google-cloud-sdk*", "kubectl", "nodejs")

DOC_PATTERNS = ("readme*", "news*", "todo*", "faq*", "*.txt", "*.md", "*.rst", "*.html", "*.htm")
DOC_EXCLUDE = ("changelog*", "copyright", "*.js", "*.css", "cmakelists.txt", "*license*.txt")
MAN_SECTIONS = ("man1", "man8")
MAX_BYTES = 4 << 20  # a longer file is read up to here


@dataclass(frozen=True)
class Doc:
    collection: str  # licenses | doc | man
    group: str       # the owning package, or the collection for licenses
    path: str        # absolute path
    kind: str        # text | html | man


def dpkg_owners(info_dir="/var/lib/dpkg/info"):
    """Map every path listed by an installed package (/var/lib/dpkg/info/*.list) to the package."""
    owners = {}
    if not os.path.isdir(info_dir):
        return owners
    for name in sorted(os.listdir(info_dir)):
        if not name.endswith(".list"):
            continue
        pkg = name[:-5].split(":")[0]
        with open(os.path.join(info_dir, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                owners.setdefault(line.rstrip("\n"), pkg)
    return owners


def _third_party(pkg):
    return any(fnmatch.fnmatch(pkg, p) for p in THIRD_PARTY)


def _walk_files(root):
    """Regular files under root (no symlinks, none followed), sorted by path."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            if not os.path.islink(p) and os.path.isfile(p):
                out.append(p)
    return sorted(out)


def _base_name(path):
    """The lower-case file name without a trailing .gz."""
    b = os.path.basename(path).lower()
    return b[:-3] if b.endswith(".gz") else b


def _doc_kind(path):
    b = _base_name(path)
    if any(fnmatch.fnmatch(b, p) for p in DOC_EXCLUDE):
        return None
    if not any(fnmatch.fnmatch(b, p) for p in DOC_PATTERNS):
        return None
    return "html" if b.endswith((".html", ".htm")) else "text"


def collect(owners, usr="/usr/share"):
    """Every candidate document of the three collections, in a fixed order."""
    docs = []
    for p in _walk_files(os.path.join(usr, "common-licenses")):
        docs.append(Doc("licenses", "licenses", p, "text"))
    droot = os.path.join(usr, "doc")
    if os.path.isdir(droot):
        for pkgdir in sorted(os.listdir(droot)):
            top = os.path.join(droot, pkgdir)
            if os.path.islink(top) or not os.path.isdir(top):
                continue
            for p in _walk_files(top):
                kind = _doc_kind(p)
                pkg = owners.get(p)
                if kind and pkg and not _third_party(pkg):
                    docs.append(Doc("doc", pkg, p, kind))
    for sec in MAN_SECTIONS:
        for p in _walk_files(os.path.join(usr, "man", sec)):
            pkg = owners.get(p)
            if pkg and not _third_party(pkg):
                docs.append(Doc("man", pkg, p, "man"))
    return docs


def read_bytes(path):
    """The file's bytes, gunzipped when it ends in .gz; at most MAX_BYTES."""
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read(MAX_BYTES)
    with open(path, "rb") as f:
        return f.read(MAX_BYTES)


def read_text(data):
    """UTF-8 text of a document, or None for binary data (a NUL byte)."""
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


_MAN_PARA = {"SH", "SS", "PP", "P", "LP", "TP", "IP", "HP", "sp", "Sh", "Ss", "Pp", "Lp", "Bl",
             "El", "It", "Bd", "Ed", "TQ", "EX", "EE"}
_MAN_FONT = {"B", "I", "R", "BI", "BR", "IB", "IR", "RB", "RI", "SM", "SB"}
_MDOC_WORD = re.compile(r"^[A-Z][a-z][a-z]?$")  # mdoc call names inside a line (Fl, Ar, Xr, ...)
_ROFF_ESC = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),          # font changes
    (re.compile(r"\\s[+-]?\d+"), ""),                       # size changes
    (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""),         # string interpolation
    (re.compile(r"\\\((em|en|hy)"), "-"),
    (re.compile(r"\\\((aq|cq|oq)"), "'"),
    (re.compile(r"\\\((dq|lq|rq)"), '"'),
    (re.compile(r"\\(\(..|\[[^\]]*\])"), " "),            # other special characters
    (re.compile(r"\\[-e]"), lambda m: "-" if m.group(0) == "\\-" else "\\"),
    (re.compile(r"\\[&|^c%:]"), ""),
    (re.compile(r"\\(.)"), r"\1"),
]


def roff_to_text(src):
    """Plain text of a man page (man or mdoc macros): requests dropped, the text of font and mdoc
    macros kept, escapes resolved; paragraph macros (.SH, .PP, .TP, .IP, .Pp, ...) become blank
    lines. Returns "" for a `.so` redirection."""
    out = []
    for line in src.splitlines():
        if line.startswith(".so "):
            return ""
        if not line.startswith((".", "'")):
            out.append(line)
            continue
        parts = line[1:].strip().split(None, 1)
        name = parts[0] if parts else ""
        args = parts[1] if len(parts) > 1 else ""
        if name.startswith('\\"'):
            continue
        if name in _MAN_PARA:
            out.append("")
            if name in ("SH", "SS", "Sh", "Ss", "It"):
                out.append(args.replace('"', ""))
        elif name in _MAN_FONT:
            out.append(args.replace('"', ""))
        elif _MDOC_WORD.match(name) and name not in ("Dd", "Dt", "Os"):
            out.append(" ".join(w for w in args.split() if not _MDOC_WORD.match(w)))
    text = "\n".join(out)
    for rx, rep in _ROFF_ESC:
        text = rx.sub(rep, text)
    return text


class _HtmlText(HTMLParser):
    """Text of an HTML page; block elements end a paragraph, script/style are dropped."""
    BLOCK = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "table", "tr", "h1", "h2", "h3",
             "h4", "h5", "h6", "blockquote", "section", "br", "hr", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data.replace("\n", " "))


def html_to_text(src):
    """Plain text of an HTML document, paragraphs separated by blank lines."""
    p = _HtmlText()
    p.feed(src)
    p.close()
    return "".join(p.parts)
