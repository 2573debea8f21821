"""Escaping for text that leaves the program as markdown (pull-request comments, plan markdown,
promote's pull-request description) or as one line (commit subjects, pull-request titles).

Every value that comes from a config, the Model Registry, AWS or a file name goes through one of
these before it is put into markdown, so it can't end a code span or a table cell, insert raw HTML
or start a heading, list or quote of its own (GitHub-flavoured markdown as CodeCommit and GitHub
render it):

- ``code(value)``: an inline code span whose fence is longer than any run of backticks in the value;
- ``text(value)``: prose: markdown punctuation backslash-escaped, ``<``, ``>`` and ``&`` as entities;
- ``cell(value)``: ``text`` for a table cell (``|`` escaped, newlines as spaces);
- ``one_line(value)``: control characters and line breaks replaced, for one-line fields.

All of them put the value on one line: a line break in a value would end a table row or start a
block (``## no findings``) of its own. Pass ``table=True`` to ``code`` inside a table row: there a
``|`` is escaped as ``\\|`` (GFM splits cells before it reads code spans, and unescapes ``\\|`` in
them); outside a table that backslash would show.
"""

from __future__ import annotations

import re

# C0 and C1 controls (tab and line breaks handled first), lone surrogates, and the Unicode line
# and paragraph separators; bidirectional overrides, which can make a value read as another.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# Inline markdown punctuation that can start emphasis, links, code, strike-through, tables or
# escapes anywhere in a line.
_INLINE = re.compile(r"([\\`*_\[\]|~#])")
# What starts a block at the beginning of a line (or of a list item's text): list bullets,
# ordered-list numbers, thematic breaks (``*``, ``_``, ``#`` and ``>`` are escaped everywhere).
_BLOCK_START = re.compile(r"^(\s*)([-+])(?!\d)|^(\s*\d{1,9})([.)])(?=\s|$)")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def one_line(value: object) -> str:
    """The value on one line: line breaks and tabs become spaces, other control characters (and
    lone surrogates, and bidirectional overrides) become U+FFFD, so nothing is silently dropped."""
    s = str(value)
    s = _LINE_BREAKS.sub(" ", s).replace("\t", " ")
    return _CONTROLS.sub("\ufffd", s)


def text(value: object) -> str:
    """The value as inline prose: it renders as itself and nothing else."""
    s = one_line(value)
    s = "".join(_HTML.get(ch, ch) for ch in s)
    s = _INLINE.sub(r"\\\1", s)
    return _BLOCK_START.sub(
        lambda m: (m.group(1) or m.group(3) or "") + "\\" + (m.group(2) or m.group(4)), s, count=1
    )


def cell(value: object) -> str:
    """The value as the text of a table cell (``text`` escapes ``|`` and keeps it on one line)."""
    return text(value)


def code(value: object, *, table: bool = False) -> str:
    """The value as an inline code span that the value can't end: its fence is one backtick longer
    than the longest run of backticks in it, padded with a space where the value starts or ends
    with a backtick (or with spaces, which a code span would strip)."""
    s = one_line(value)
    if table:
        s = s.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    if not s:
        return fence + " " + fence
    if s[0] == "`" or s[-1] == "`" or (s[0] == " " and s[-1] == " " and s.strip(" ")):
        s = f" {s} "
    return f"{fence}{s}{fence}"
