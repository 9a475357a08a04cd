"""Model specifications of one association: which samples and covariates enter each model.

Every model is fitted on its own complete cases (samples with the outcome, the score and every
covariate it uses), so a missing ER value drops that sample from the adjusted model, not the
adjusted model from the cohort. A covariate that is constant among those samples cannot be
estimated: it is dropped, the formula and ``covariates`` list only what entered, and ``note``
says why. A covariate that is not recorded at all makes the adjusted model unfittable (the row
says so) rather than silently unadjusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Covariate:
    """One covariate column over all samples (NaN = missing) and its formula term."""

    name: str        # the term in formulas and the ``covariates`` column
    values: np.ndarray
    standardise: bool = False  # control scores enter as z within the analysed samples


@dataclass
class ModelSpec:
    """One model: its label, formula, analysed samples and the covariate matrix that entered."""

    model: str
    formula: str
    mask: np.ndarray
    columns: np.ndarray
    covariates: list[str] = field(default_factory=list)
    note: str = ""
    reason: str = ""  # non-empty: the model cannot be fitted, for this reason


def status_covariates(obs: pd.DataFrame, names: list[str]) -> tuple[list[Covariate], str]:
    """Indicator covariates (``er_status`` → ``er_positive``) or ('', reason) when not recorded."""
    out = []
    for name in names:
        if name not in obs or obs[name].isna().all():
            return [], f"{name} not recorded"
        values = obs[name].astype(object)
        column = np.where(values.isna(), np.nan, (values == "positive").astype(float))
        out.append(Covariate(name.replace("_status", "_positive"), column.astype(float)))
    return out, ""


def arm_covariates(obs: pd.DataFrame, mask: np.ndarray, reference: str) -> list[Covariate]:
    """Indicators of each arm in ``mask`` other than ``reference`` (arm as covariate)."""
    arm = obs["arm"].astype(object).to_numpy()
    present = sorted({str(a) for a in arm[mask] if not pd.isna(a)})
    ref = reference if reference in present else (present[0] if present else "")
    return [Covariate(f"arm[{a}]", np.where(pd.isna(arm), np.nan, (arm == a).astype(float)))
            for a in present if a != ref]


def _constant(values: np.ndarray) -> str:
    """Why a covariate cannot be estimated among the analysed samples ('' if it can)."""
    unique = np.unique(values)
    if len(unique) > 1:
        return ""
    return f"constant (all {unique[0]:g})" if unique.size else "no data"


def build(model: str, outcome: str, mask: np.ndarray, covariates: list[Covariate], *,
          reason: str = "", suffix: str = "") -> ModelSpec:
    """Complete-case spec of ``outcome ~ z(score) + covariates`` within ``mask``.

    Parameters
    ----------
    model
        Model label (``logistic``, ``cox_adj`` …).
    outcome
        Left-hand side of the formula (``pcr`` or ``Surv(os)``).
    mask
        Samples with the outcome and the score (over all samples of the cohort).
    covariates
        Candidate covariates; rows missing any of them are left out of this model.
    reason
        A reason the model cannot be fitted at all (e.g. a covariate not recorded).
    suffix
        Text appended to the formula (e.g. Cox strata).
    """
    if reason:
        terms = "".join(f" + {c.name}" for c in covariates)
        return ModelSpec(model, f"{outcome} ~ z(score){terms}{suffix}", mask,
                         np.empty((int(mask.sum()), 0)), reason=f"not fitted: {reason}")
    complete = mask.copy()
    for c in covariates:
        complete &= np.isfinite(c.values)
    entered, dropped, columns = [], [], []
    for c in covariates:
        values = c.values[complete]
        why = _constant(values)
        if why:
            dropped.append(f"{c.name} dropped: {why} among the {int(complete.sum())} analysed")
            continue
        if c.standardise:
            sd = np.std(values, ddof=1) if len(values) > 1 else 0.0
            values = (values - values.mean()) / sd if sd > 0 else np.zeros_like(values)
        entered.append(c.name)
        columns.append(values)
    missing = int(mask.sum() - complete.sum())
    notes = dropped + ([f"{missing} sample(s) without every covariate left out (complete cases)"]
                       if missing else [])
    matrix = np.column_stack(columns) if columns else np.empty((int(complete.sum()), 0))
    formula = f"{outcome} ~ z(score)" + "".join(f" + {n}" for n in entered) + suffix
    return ModelSpec(model, formula, complete, matrix, entered, "; ".join(notes))
