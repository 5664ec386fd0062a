"""chunking.py — how a document becomes a sequence of paragraph chunks (docs/realtext.md, "Chunks").

1. Paragraphs: the text is split at blank lines (a line of only spaces/tabs is blank). Decoration
   lines (3 or more of -=~*#_`+.:|<>^ only: rules, reST underlines, code fences) are removed;
   the lines of a paragraph are joined and runs of white space collapsed to one space.
2. A paragraph of fewer than MIN_WORDS words (a heading, an option name) is carried into the next
   one, so headings join the paragraph they introduce; a short tail at the end of the document
   joins the last chunk.
3. A paragraph of more than MAX_WORDS words is cut into the fewest near-equal pieces of at most
   MAX_WORDS words.
A word is a maximal run of non-white-space characters.
"""
import re

MIN_WORDS = 10
MAX_WORDS = 200

_DECOR = re.compile(r"^\s*[-=~*#_`+.:|<>^]{3,}\s*$")
_BLANK = re.compile(r"\n[ \t]*\n")


def paragraphs(text):
    """The paragraphs of a text, each as a list of words."""
    out = []
    for block in _BLANK.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [ln for ln in block.split("\n") if not _DECOR.match(ln)]
        words = " ".join(lines).split()
        if words:
            out.append(words)
    return out


def _cut(words):
    """Split a word list into the fewest near-equal pieces of at most MAX_WORDS words."""
    k = -(-len(words) // MAX_WORDS)
    base, extra = divmod(len(words), k)
    pieces, at = [], 0
    for i in range(k):
        n = base + (1 if i < extra else 0)
        pieces.append(words[at:at + n])
        at += n
    return pieces


def chunks(text):
    """The chunks of a document (rules 1-3 above), each a string."""
    out, pending = [], []
    for words in paragraphs(text):
        pending.extend(words)
        if len(pending) < MIN_WORDS:
            continue
        out.extend(" ".join(p) for p in _cut(pending))
        pending = []
    if pending and out:
        out[-1] = out[-1] + " " + " ".join(pending)
    return out
