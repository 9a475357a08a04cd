"""Why a cohort gives no estimate (``no_estimate_reason`` in the per-cohort QC JSON)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from her2atlas.contribution import no_estimate_reason
from her2atlas.strata import CohortDesign

TREATED = CohortDesign("trastuzumab_treated")
PCR = {"response": "pcr", "survival": []}


def _obs(n: int, pcr_events: int, *, her2: str = "positive") -> pd.DataFrame:
    pcr = [1] * pcr_events + [0] * (n - pcr_events)
    return pd.DataFrame({"her2_status": [her2] * n, "trastuzumab": [True] * n, "pcr": pcr},
                        index=[f"S{i}" for i in range(n)])


def test_enough_pcr_events_contributes():
    assert no_estimate_reason(_obs(10, 5), TREATED, PCR, min_events=5) is None


def test_too_few_pcr_events_gives_the_counts():
    reason = no_estimate_reason(_obs(10, 4), TREATED, PCR, min_events=5)
    assert reason == ("too few events (minimum 5 per endpoint; pCR needs as many non-pCR) in "
                      "every HER2+ subgroup: HER2+ trastuzumab-treated: 4 pCR / 6 non-pCR")


def test_no_her2_field_and_no_her2_positive_samples():
    obs = _obs(10, 5).drop(columns="her2_status")
    assert no_estimate_reason(obs, TREATED, PCR, min_events=5).startswith(
        "no HER2 status mapped (the manifest has no her2_status field)")
    assert no_estimate_reason(_obs(10, 5, her2="negative"), TREATED, PCR, min_events=5) == (
        "no HER2+ samples: her2_status is positive for none of 10 samples")


def test_no_endpoint():
    obs = _obs(10, 5).drop(columns="pcr")
    assert no_estimate_reason(obs, TREATED, {"response": None, "survival": []},
                              min_events=5) == "no endpoint (none declared) for the 10 HER2+ samples"
    assert no_estimate_reason(obs, TREATED, PCR, min_events=5) == (
        "no endpoint (declared pcr not mapped) for the 10 HER2+ samples")


def test_survival_events_count_only_with_a_time():
    """Unrecorded-treatment cohort: 6 OS events, one without a time, floor 5 → 5 counted."""
    n = 20
    obs = pd.DataFrame({"her2_status": ["positive"] * n,
                        "os_time": [np.nan] + [12.0] * (n - 1),
                        "os_event": [1] * 6 + [0] * (n - 6)}, index=[f"S{i}" for i in range(n)])
    design = CohortDesign("treatment_unrecorded")
    survival = {"response": None, "survival": ["os"]}
    assert no_estimate_reason(obs, design, survival, min_events=5) is None
    reason = no_estimate_reason(obs, design, survival, min_events=6)
    assert reason.endswith(": 5 os event(s)")
