"""Did-you-mean suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def _ranked(word: str, candidates: Iterable[str], cutoff: float) -> list[str]:
    """Candidates that tie for the best similarity to ``word`` (case-insensitive), best first."""
    pool = list(dict.fromkeys(candidates))
    exact = [c for c in pool if c.lower() == word.lower()]
    if exact:
        return exact[:1]
    scored = []
    for c in pool:
        matcher = difflib.SequenceMatcher(None, word.lower(), c.lower())
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            score = matcher.ratio()
            if score >= cutoff:
                scored.append((score, c))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [c for score, c in sorted(scored, key=lambda sc: (-sc[0], sc[1])) if best - score < 1e-9]


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like ``word`` (case-insensitive), or None when nothing is close."""
    ranked = _ranked(word, candidates, cutoff)
    return ranked[0] if ranked else None


def did_you_mean(word: str, candidates: Iterable[str], fallback: str = "") -> str:
    """A hint such as "did you mean 'ml.m5.large'?", or ``fallback`` when nothing is close.
    Equally close candidates are all named (up to three)."""
    ranked = _ranked(word, candidates, 0.6)[:3]
    if not ranked:
        return fallback
    return "did you mean " + " or ".join(repr(c) for c in ranked) + "?"


def one_of(values: Iterable[str], limit: int = 12) -> str:
    items = sorted(set(values)) if not isinstance(values, list | tuple) else list(values)
    shown = ", ".join(repr(v) for v in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items)} in all)"
    return f"use one of {shown}"
