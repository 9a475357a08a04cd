"""Treatment fields for ``her2atlas draft``: trastuzumab, anti_her2 and arm from raw values.

A value names an anti-HER2 agent by a drug word (``Trastuzumab``, ``Herceptin``) or by a
regimen-code token from the curated table (``TH/FAC``, ``FEC/TX+H``, ``HER2+ CT H``, ``TCHTy``).
An upper-case code token that contains ``H`` but is not in the table (``TFAC/HT``: hormone
therapy or Herceptin?) makes the value ambiguous: mapped to null and listed for review.
"""

from __future__ import annotations

import re

from . import field_synonyms as syn
from .draft_fields import KeyTally, Proposal, _rank

TRASTUZUMAB_CODES = next(codes for agent, _, codes in syn.AGENTS if agent == "trastuzumab")
CODE_TOKEN = re.compile(r"[A-Z]{1,6}y?")


def agents_in(value: str) -> tuple[list[str], bool, bool]:
    """Anti-HER2 agents a raw value names: (agents in table order, by a word?, ambiguous?)."""
    low = value.lower()
    found, by_word, ambiguous = set(), False, False
    for agent, words, _ in syn.AGENTS:
        if re.search(words, low):
            found.add(agent)
            by_word = True
    for token in re.split(r"[^A-Za-z0-9]+", value):
        if not CODE_TOKEN.fullmatch(token):
            continue
        upper = token.upper()
        for agent, _, codes in syn.AGENTS:
            if upper in codes:
                found.add(agent)
        if ("H" in upper and upper not in TRASTUZUMAB_CODES
                and upper not in syn.NOT_TRASTUZUMAB_CODES and "trastuzumab" not in found):
            ambiguous = True
    ordered = [agent for agent, _, _ in syn.AGENTS if agent in found]
    return ordered, by_word, ambiguous and "trastuzumab" not in found


def _drug_flag(t: KeyTally) -> dict | None:
    """Map of a key naming the drug (``herceptin: 0/1``), or None if its values are not yes/no."""
    if not re.fullmatch(syn.DRUG_FLAG_KEYS, syn.normalise_key(t.key)):
        return None
    mapping = {}
    for value in t.counts:
        norm = syn.normalise_value(value)
        mapping[value] = True if norm in syn.BOOL_YES else False if norm in syn.BOOL_NO else None
    return mapping if any(v is not None for v in mapping.values()) else None


def _describes_treatment(t: KeyTally) -> tuple[int, dict, dict[str, int]] | None:
    """(kind rank, trastuzumab map, ambiguous values) for a column whose values name agents."""
    treatment_key = _rank("treatment", t.key) is not None or _rank("arm", t.key) is not None
    mapping, ambiguous, words, codes = {}, {}, 0, 0
    for value, n in t.counts.items():
        agents, by_word, unsure = agents_in(value)
        if unsure:
            mapping[value] = None
            ambiguous[value] = n
            continue
        mapping[value] = "trastuzumab" in agents
        words += bool(agents) and by_word
        codes += bool(agents) and not by_word
    if not words and not codes:
        return None
    if words:
        return (0 if treatment_key else 3), mapping, ambiguous
    return (2 if treatment_key else None), mapping, ambiguous


def trastuzumab_field(tallies: list[KeyTally], table_name: str) -> tuple[Proposal, KeyTally] | None:
    """Propose ``trastuzumab`` from the clearest column (few values, drug words before codes)."""
    candidates = []
    for t in tallies:
        flag = _drug_flag(t)
        if flag is not None:
            ambiguous = {v: t.counts[v] for v, m in flag.items() if m is None}
            candidates.append(((len(t.counts) > 20, 1, len(ambiguous), len(t.counts)), t, flag,
                               ambiguous))
            continue
        described = _describes_treatment(t)
        if described is None or described[0] is None:
            continue
        kind, mapping, ambiguous = described
        candidates.append(((len(t.counts) > 20, kind, len(ambiguous), len(t.counts)), t,
                           mapping, ambiguous))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0] + (c[1].key,))
    _, t, mapping, ambiguous = candidates[0]
    treated = sum(n for v, n in t.counts.items() if mapping.get(v) is True)
    how = "flagged yes" if _drug_flag(t) is not None else "name it (drug word or regimen code)"
    why = f"trastuzumab <- {t.key!r}: {treated} of {t.present} samples {how}"
    proposal = Proposal("trastuzumab", {"table": table_name, "column": t.key, "map": mapping}, why,
                        key=t.key, ambiguous=ambiguous)
    if len(candidates) > 1:
        other = candidates[1][1]
        proposal.guesses.append(
            f"trastuzumab: {t.key!r} chosen; {other.key!r} also names trastuzumab "
            f"({sum(n for v, n in other.counts.items() if candidates[1][2].get(v) is True)} "
            f"samples) - compare the two if they differ")
    return proposal, t


def anti_her2_field(source: KeyTally, table_name: str) -> Proposal | None:
    """``anti_her2`` (``trastuzumab``, ``lapatinib``, ``trastuzumab+lapatinib``, ``none``) per value."""
    if _drug_flag(source) is not None:
        return None
    mapping, ambiguous = {}, {}
    for value, n in source.counts.items():
        agents, _, unsure = agents_in(value)
        if unsure:
            mapping[value], ambiguous[value] = None, n
        else:
            mapping[value] = "+".join(agents) if agents else "none"
    why = f"anti_her2 <- {source.key!r}: agents named in each value"
    return Proposal("anti_her2", {"table": table_name, "column": source.key, "map": mapping}, why,
                    key=source.key, ambiguous=ambiguous)


def other_agents(source: KeyTally) -> set[str]:
    """Anti-HER2 agents other than trastuzumab named anywhere in a column."""
    found = set()
    for value in source.counts:
        found.update(a for a in agents_in(value)[0] if a != "trastuzumab")
    return found


def arm_field(tallies: list[KeyTally], table_name: str) -> Proposal | None:
    """``arm`` from a key named like an arm or treatment group/code with 2-15 values."""
    candidates = []
    for t in tallies:
        rank = _rank("arm", t.key)
        if rank is not None and 2 <= len(t.counts) <= 15:
            candidates.append((rank, t.key, t))
    if not candidates:
        return None
    _, key, t = sorted(candidates, key=lambda c: c[:2])[0]
    why = f"arm <- {key!r}: " + t.describe(shown=15).split(": ", 1)[1]
    return Proposal("arm", {"table": table_name, "column": key}, why, key=key)
