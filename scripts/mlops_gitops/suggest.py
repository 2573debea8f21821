"""Did-you-mean suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like ``word`` (case-insensitive), or None when nothing is close."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return lowered[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str], fallback: str = "") -> str:
    """A hint such as "did you mean 'ml.m5.large'?", or ``fallback`` when nothing is close."""
    best = closest(word, candidates)
    return f"did you mean {best!r}?" if best is not None else fallback


def one_of(values: Iterable[str], limit: int = 12) -> str:
    items = sorted(set(values)) if not isinstance(values, list | tuple) else list(values)
    shown = ", ".join(repr(v) for v in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items)} in all)"
    return f"use one of {shown}"
