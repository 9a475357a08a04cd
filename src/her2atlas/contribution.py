"""Why a cohort gives no estimate: recorded in ``<results_dir>/qc/{cohort}.json`` for the report.

A cohort contributes an estimate when at least one of its analysed HER2+ subgroups has enough
events for one endpoint: for pCR at least ``min_events`` pCR *and* ``min_events`` non-pCR, for a
survival endpoint at least ``min_events`` events among samples with a time and an event (the
same floors the association stage applies before fitting). Otherwise the first reason that
applies, in the order of the pipeline's own checks, is returned as one sentence.
"""

from __future__ import annotations

import pandas as pd

from .strata import CohortDesign, subgroups


def _pcr_counts(obs: pd.DataFrame, mask: pd.Series) -> tuple[int, int]:
    y = pd.to_numeric(obs.loc[mask, "pcr"], errors="coerce").dropna()
    return int(y.sum()), int(len(y) - y.sum())


def _events(obs: pd.DataFrame, mask: pd.Series, endpoint: str) -> int:
    time = pd.to_numeric(obs.loc[mask, f"{endpoint}_time"], errors="coerce")
    event = pd.to_numeric(obs.loc[mask, f"{endpoint}_event"], errors="coerce")
    return int(event[time.notna() & event.notna()].sum())


def _endpoint_counts(obs: pd.DataFrame, mask: pd.Series, endpoints: dict,
                     min_events: int) -> tuple[bool, list[str]]:
    """Whether one endpoint of the subgroup reaches the floor, and the counts found."""
    enough, found = False, []
    if endpoints.get("response") == "pcr" and "pcr" in obs:
        events, non_events = _pcr_counts(obs, mask)
        enough |= min(events, non_events) >= min_events
        found.append(f"{events} pCR / {non_events} non-pCR")
    for endpoint in endpoints.get("survival") or []:
        if f"{endpoint}_time" in obs and f"{endpoint}_event" in obs:
            events = _events(obs, mask, endpoint)
            enough |= events >= min_events
            found.append(f"{events} {endpoint} event(s)")
    return enough, found


def no_estimate_reason(obs: pd.DataFrame, design: CohortDesign, endpoints: dict, *,
                       min_events: int) -> str | None:
    """Why the cohort contributes no statistics estimate, or None when it does.

    Parameters
    ----------
    obs
        Cohort ``obs`` in the standard vocabulary (after the sample filter and replicates).
    design
        The manifest's design (decides the analysed HER2+ subgroups).
    endpoints
        ``{"response": "pcr" or None, "survival": [...]}`` as declared in the manifest.
    min_events
        ``association.min_events`` of the config.

    Returns
    -------
    str or None
        ``no HER2 status mapped …``, ``no HER2+ samples …``, ``no endpoint …`` or
        ``too few events …`` (with the counts found per subgroup); None when some subgroup has
        enough events for some endpoint.
    """
    if "her2_status" not in obs:
        return ("no HER2 status mapped (the manifest has no her2_status field), so there is no "
                "HER2+ subgroup to analyse")
    her2 = int((obs["her2_status"].astype(object) == "positive").sum())
    if her2 == 0:
        return f"no HER2+ samples: her2_status is positive for none of {len(obs)} samples"
    declared = [e for e in ([endpoints.get("response")] + list(endpoints.get("survival") or []))
                if e]
    mapped = [e for e in declared if e in obs or f"{e}_time" in obs]
    if not mapped:
        what = f"declared {', '.join(declared)} not mapped" if declared else "none declared"
        return f"no endpoint ({what}) for the {her2} HER2+ samples"
    groups = subgroups(obs, design)
    if not groups:
        return f"no analysed HER2+ subgroup for design {design.design!r}"
    details = []
    for sub in groups:
        enough, found = _endpoint_counts(obs, sub.mask, endpoints, min_events)
        if enough:
            return None
        details.append(f"{sub.label}: {', '.join(found)}")
    return (f"too few events (minimum {min_events} per endpoint; pCR needs as many non-pCR) in "
            f"every HER2+ subgroup: {'; '.join(details)}")
