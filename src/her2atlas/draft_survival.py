"""Survival fields for ``her2atlas draft``: time/event pairs, their endpoint and time unit."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import field_synonyms as syn
from .draft_fields import KeyTally, Proposal

#: Median follow-up above which a unit-less time is read as days (20 years in months = 240).
DAYS_ABOVE = 240.0


@dataclass
class _Candidate:
    endpoint: str | None  # None = the key names no endpoint ('time', 'event')
    kind: str  # time | event
    tally: KeyTally


def endpoint_of(key: str) -> str | None:
    """The endpoint a key names (``time to ddfs`` → dmfs, ``distant metastasis`` → dmfs)."""
    norm = syn.normalise_key(key)
    for endpoint, words in syn.ENDPOINT_WORDS:
        if re.search(rf"(?:{words})", norm):
            return endpoint
    return None


def _event_map(t: KeyTally) -> dict | None:
    mapping = {}
    for value in t.counts:
        norm = syn.normalise_value(value)
        mapping[value] = 1 if norm in syn.EVENT_YES else 0 if norm in syn.EVENT_NO else None
    known = sum(n for v, n in t.counts.items() if mapping[v] is not None)
    return mapping if known >= 0.9 * t.present and len(t.counts) <= 4 else None


def _candidates(tallies: list[KeyTally]) -> list[_Candidate]:
    """Time keys (numbers, a time word) and event keys (yes/no values) with their endpoint."""
    out = []
    for t in tallies:
        if not t.counts:
            continue
        norm = syn.normalise_key(t.key)
        endpoint = endpoint_of(t.key)
        names_time = re.search(syn.TIME_WORDS, norm) is not None
        numbers = t.numbers()
        if numbers is not None and len(t.counts) > 4:
            if re.fullmatch(syn.GENERIC_TIME, norm):
                out.append(_Candidate(None, "time", t))
            elif endpoint and names_time:
                out.append(_Candidate(endpoint, "time", t))
        elif not names_time and _event_map(t) is not None:
            if re.fullmatch(syn.GENERIC_EVENT, norm):
                out.append(_Candidate(None, "event", t))
            elif endpoint:
                out.append(_Candidate(endpoint, "event", t))
    return out


def propose_unit(t: KeyTally) -> tuple[str, str]:
    """(unit, reason): the unit a key names, else days when the median exceeds 240, else months."""
    norm = syn.normalise_key(t.key)
    for unit, words in syn.UNIT_WORDS.items():
        if re.search(words, norm):
            return unit, f"the key {t.key!r} names {unit}"
    numbers = t.numbers()
    median = float(np.median(numbers))
    if median > DAYS_ABOVE:
        return "days", (f"{t.key!r} names no unit; median {median:g} (range {numbers.min():g}-"
                        f"{numbers.max():g}) is above {DAYS_ABOVE:g}, too long for months: days")
    return "months", (f"{t.key!r} names no unit; median {median:g} (range {numbers.min():g}-"
                      f"{numbers.max():g}) read as months - set unit: years if the source says "
                      "years")


def _pair(candidates: list[_Candidate]) -> dict[str, tuple[_Candidate, _Candidate, bool]]:
    """Endpoint → (time, event, endpoint guessed?) for every endpoint with both halves."""
    named: dict[str, dict[str, _Candidate]] = {}
    generic: dict[str, _Candidate] = {}
    for c in candidates:
        if c.endpoint is None:
            generic.setdefault(c.kind, c)
        else:
            named.setdefault(c.endpoint, {}).setdefault(c.kind, c)
    pairs = {}
    for endpoint, halves in named.items():
        if len(halves) == 2:
            pairs[endpoint] = (halves["time"], halves["event"], False)
    half_only = [e for e, h in named.items() if len(h) == 1]
    if len(half_only) == 1:  # one named half plus the generic other half
        endpoint = half_only[0]
        have = named[endpoint]
        need = "event" if "time" in have else "time"
        if need in generic:
            halves = {**have, need: generic.pop(need)}
            pairs[endpoint] = (halves["time"], halves["event"], True)
    if not pairs and len(generic) == 2:
        pairs["efs"] = (generic["time"], generic["event"], True)
    return pairs


def survival_fields(tallies: list[KeyTally], table_name: str) -> list[Proposal]:
    """Proposals for every endpoint found with both a time and an event key."""
    proposals = []
    for endpoint, (time, event, guessed) in sorted(_pair(_candidates(tallies)).items()):
        unit, reason = propose_unit(time.tally)
        event_map = _event_map(event.tally)
        identity = all(str(v) == k for k, v in event_map.items())
        spec = {"table": table_name, "column": event.tally.key}
        if not identity:
            spec["map"] = event_map
        ambiguous = {v: event.tally.counts[v] for v, m in event_map.items() if m is None}
        events = sum(n for v, n in event.tally.counts.items() if event_map[v] == 1)
        ev = Proposal(f"{endpoint}_event", spec, f"{endpoint}_event <- {event.tally.key!r}: "
                      f"{events} events of {event.tally.present}", key=event.tally.key,
                      ambiguous=ambiguous)
        tm = Proposal(f"{endpoint}_time", {"table": table_name, "column": time.tally.key,
                                           "unit": unit},
                      f"{endpoint}_time <- {time.tally.key!r} ({unit})", key=time.tally.key)
        tm.guesses.append(f"{endpoint}_time unit: {reason}")
        if guessed:
            tm.guesses.append(
                f"{endpoint}: the keys {time.tally.key!r} / {event.tally.key!r} do not both name "
                f"an endpoint; {endpoint} is a placeholder - rename to the endpoint the source "
                "describes (efs, rfs, dfs, dmfs, os, dss, pfi)")
        proposals += [tm, ev]
    return proposals
