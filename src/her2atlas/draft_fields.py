"""Recognise standard clinical fields in a raw characteristics table (for ``her2atlas draft``).

Every key is tallied; each standard field is proposed from the keys its synonyms name and the
values its vocabulary knows (:mod:`her2atlas.field_synonyms`). A value the vocabulary marks as
ambiguous, or does not know, is mapped to null (unknown) and listed for review: nothing
ambiguous is decided silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import field_synonyms as syn
from .clinical import MISSING_TOKENS

#: classify(raw value) → ("ok", standard value) | ("ambiguous", None) | ("unknown", None)
Classifier = Callable[[str], tuple[str, object]]


@dataclass
class KeyTally:
    """Every value of one raw key, by frequency, and how many samples lack it."""

    key: str
    counts: dict[str, int]
    missing: int

    @property
    def present(self) -> int:
        """Samples with a (non-missing) value."""
        return sum(self.counts.values())

    def numbers(self) -> np.ndarray | None:
        """The values as floats when every present value is a number, else None."""
        if not self.counts:
            return None
        values = pd.to_numeric(pd.Series(list(self.counts)), errors="coerce")
        if values.isna().any():
            return None
        return np.repeat(values.to_numpy(dtype=float), list(self.counts.values()))

    def describe(self, shown: int = 12) -> str:
        """One line: the values with counts (numeric keys as min / median / max)."""
        head = f"{self.key} ({len(self.counts)} distinct, {self.missing} missing)"
        numbers = self.numbers()
        if numbers is not None and len(self.counts) > shown:
            return (f"{head}: numeric, min {numbers.min():g}, median {np.median(numbers):g}, "
                    f"max {numbers.max():g}")
        items = list(self.counts.items())
        text = "; ".join(f"{_quote(v)} {n}" for v, n in items[:shown])
        if len(items) > shown:
            rest = items[shown:]
            text += f"; … {len(rest)} more distinct values ({sum(n for _, n in rest)} samples)"
        return f"{head}: {text}"


def _quote(value: str) -> str:
    return repr(value.replace("\n", " "))


@dataclass
class Proposal:
    """A proposed ``clinical.fields`` entry and what a reviewer must know about it."""

    field: str
    spec: dict
    why: str
    key: str | None = None
    ambiguous: dict[str, int] = field(default_factory=dict)
    guesses: list[str] = field(default_factory=list)


def tally(table: pd.DataFrame, keys: list[str]) -> list[KeyTally]:
    """Tally every key's values (stripped; the pipeline's missing tokens counted as missing)."""
    out = []
    for key in keys:
        raw = table[key].map(lambda v: None if v is None or pd.isna(v) else str(v).strip())
        present = raw[raw.map(lambda v: v is not None and v not in MISSING_TOKENS)]
        counts = present.value_counts()
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append(KeyTally(key, dict(order), int(len(raw) - len(present))))
    return out


def _rank(field_name: str, key: str) -> int | None:
    norm = syn.normalise_key(key)
    for rank, pattern in enumerate(syn.KEY_PATTERNS[field_name]):
        if re.fullmatch(pattern, norm):
            return rank
    return None


def build_map(tallied: KeyTally, classify: Classifier) -> tuple[dict, dict[str, int], float]:
    """Map every value of a key: (map with null for ambiguous/unknown, ambiguous values, ok share)."""
    mapping, ambiguous, ok = {}, {}, 0
    for value, n in tallied.counts.items():
        verdict, standard = classify(value)
        if verdict == "ok":
            mapping[value] = standard
            ok += n
        else:
            mapping[value] = None
            ambiguous[value] = n
    return mapping, ambiguous, ok / max(tallied.present, 1)


def _known_share(tallied: KeyTally, classify: Classifier) -> float:
    known = sum(n for v, n in tallied.counts.items() if classify(v)[0] != "unknown")
    return known / max(tallied.present, 1)


def best_mapped(field_name: str, tallies: list[KeyTally], table_name: str,
                make_classifier: Callable[[str], Classifier], *, min_known: float = 0.9,
                min_ok: float = 0.5) -> Proposal | None:
    """The best key for a mapped field: highest-ranked synonym whose values the vocabulary knows."""
    candidates = []
    for t in tallies:
        rank = _rank(field_name, t.key)
        if rank is None or not t.counts:
            continue
        classify = make_classifier(t.key)
        if _known_share(t, classify) < min_known:
            continue
        mapping, ambiguous, ok = build_map(t, classify)
        if ok < min_ok:
            continue
        candidates.append((rank, -ok, t.key, mapping, ambiguous, t))
    if not candidates:
        return None
    rank, _, key, mapping, ambiguous, t = sorted(candidates, key=lambda c: c[:3])[0]
    why = f"{field_name} <- {key!r}: " + t.describe(shown=8).split(": ", 1)[1]
    proposal = Proposal(field_name, {"table": table_name, "column": key, "map": mapping}, why,
                        key=key, ambiguous=ambiguous)
    others = [c[2] for c in candidates if c[2] != key]
    if others:
        proposal.guesses.append(f"{field_name}: chose {key!r} over {others} (key rank, then share "
                                f"of recognised values)")
    return proposal


def status_classifier(key: str) -> Classifier:
    """Classifier for HER2/ER/PR status values; IHC keys read scores, coded keys read their codes."""
    norm_key = syn.normalise_key(key)
    kind = "ihc" if "ihc" in norm_key else "status"
    codes = syn.key_codes(key)

    def classify(value: str):
        low = value.strip().lower()
        rest = re.sub(r"^(her2|her-2|erbb2|er|pr|pgr)\s*", "", low)
        if rest in ("+", "-"):
            return "ok", "positive" if rest == "+" else "negative"
        compact = rest.replace(" ", "")
        if kind == "ihc" and compact in syn.IHC_SCORES:
            mapped = syn.IHC_SCORES[compact]
            return ("ok", mapped) if mapped else ("ambiguous", None)
        if compact in codes:
            word = codes[compact]
            if word.startswith("pos"):
                return "ok", "positive"
            if word.startswith("neg"):
                return "ok", "negative"
            return "ambiguous", None
        if kind == "status" and compact in syn.STATUS_CODES:
            return "ok", syn.STATUS_CODES[compact]
        norm = syn.normalise_value(rest)
        if norm in syn.STATUS_POSITIVE:
            return "ok", "positive"
        if norm in syn.STATUS_NEGATIVE:
            return "ok", "negative"
        if norm in syn.STATUS_AMBIGUOUS or compact in syn.IHC_SCORES:
            return "ambiguous", None
        return "unknown", None

    return classify


def pcr_classifier(key: str) -> Classifier:
    """Classifier for pCR values; 0/1, yes/no and G/B count only when the key names pCR."""
    names_pcr = re.search(syn.PCR_KEY, syn.normalise_key(key)) is not None
    codes = syn.key_codes(key)

    def classify(value: str):
        norm = syn.normalise_value(value)
        if norm in codes:
            word = codes[norm]
            if word in ("yes", "pcr", "complete", "cr"):
                return "ok", 1
            if word in ("no", "rd", "residual"):
                return "ok", 0
            return "ambiguous", None
        if norm in syn.PCR_YES:
            return "ok", 1
        if norm in syn.PCR_NO:
            return "ok", 0
        if norm in syn.PCR_CODES:
            return ("ok", syn.PCR_CODES[norm]) if names_pcr else ("ambiguous", None)
        if norm in syn.PCR_AMBIGUOUS:
            return "ambiguous", None
        return "unknown", None

    return classify


def vocabulary_classifier(known: dict, ambiguous: set[str]) -> Callable[[str], Classifier]:
    """Classifier factory for a fixed vocabulary (PAM50, timepoint)."""
    def make(_key: str) -> Classifier:
        def classify(value: str):
            norm = syn.normalise_value(value)
            if norm in known:
                return "ok", known[norm]
            return ("ambiguous", None) if norm in ambiguous else ("unknown", None)
        return classify
    return make


def text_field(field_name: str, tallies: list[KeyTally], table_name: str, *,
               min_distinct: int = 1, max_distinct: int | None = None) -> Proposal | None:
    """A field kept as raw text (patient id, arm, RCB): the best-ranked key with values."""
    candidates = []
    for t in tallies:
        rank = _rank(field_name, t.key)
        n = len(t.counts)
        if rank is None or n < min_distinct or (max_distinct is not None and n > max_distinct):
            continue
        candidates.append((rank, t.key, t))
    if not candidates:
        return None
    rank, key, t = sorted(candidates, key=lambda c: c[:2])[0]
    why = f"{field_name} <- {key!r}: " + t.describe(shown=8).split(": ", 1)[1]
    return Proposal(field_name, {"table": table_name, "column": key}, why, key=key)
