"""Per-cohort association of signature scores with pCR and survival, aware of the cohort design.

Every row answers one question in one subgroup and says which: ``question`` is
``prognostic_within_trastuzumab`` (treated cohorts, or the trastuzumab arm of a randomised
trial), ``within_no_trastuzumab_arm`` (the control arm of a randomised trial) or ``prognosis``
(cohorts without, or without record of, trastuzumab). Scores are re-standardised within the
analysed samples so that effects are per 1 SD of the score in those samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from . import stats
from .clinical import as_float_array

COLUMNS = [
    "cohort", "design", "question", "subgroup", "signature", "role", "method", "endpoint",
    "model", "formula", "n", "events", "effect_type", "effect", "ci_low", "ci_high",
    "log_effect", "se", "p", "q", "direction", "pooled", "note",
]


def subgroups(obs: pd.DataFrame, design: str) -> list[tuple[str, str, pd.Series, bool]]:
    """The analysed subgroups of a cohort: (label, question, mask, pooled-in-meta).

    All subgroups are HER2-positive samples; the design decides how treatment splits them.
    """
    her2 = obs["her2_status"].astype(object) == "positive" if "her2_status" in obs else \
        pd.Series(False, index=obs.index)
    treated = obs["trastuzumab"].astype("boolean") if "trastuzumab" in obs else None
    if design == "randomised_trastuzumab" and treated is not None:
        return [
            ("HER2+ trastuzumab arm", "prognostic_within_trastuzumab",
             her2 & treated.fillna(False).astype(bool), True),
            ("HER2+ no-trastuzumab arm", "within_no_trastuzumab_arm",
             her2 & (~treated.fillna(True)).astype(bool), False),
        ]
    if design == "multi_arm_anti_her2" and "arm" in obs:
        groups = []
        for arm in sorted(obs["arm"].dropna().astype(str).unique()):
            mask = her2 & (obs["arm"].astype(object) == arm)
            groups.append((f"HER2+ arm {arm}", "within_arm", mask, False))
        return groups
    if design == "trastuzumab_treated":
        mask = her2 & (treated.fillna(False).astype(bool) if treated is not None else True)
        return [("HER2+ trastuzumab-treated", "prognostic_within_trastuzumab", mask, True)]
    return [("HER2+", "prognosis", her2, True)]


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = np.std(x, ddof=1)
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _er_covariate(obs: pd.DataFrame, mask: np.ndarray) -> np.ndarray | None:
    """ER-positive indicator for the masked samples, or None when unusable (missing/constant)."""
    if "er_status" not in obs:
        return None
    er = obs["er_status"].astype(object).to_numpy()[mask]
    if pd.isna(er).any():
        return None
    er = (er == "positive").astype(float)
    return er if 0 < er.sum() < len(er) else None


def _row(**kw) -> dict:
    row = dict.fromkeys(COLUMNS, np.nan)
    row.update(kw)
    return row


def response_rows(score: np.ndarray, pcr: np.ndarray, er: np.ndarray | None, *, base: dict,
                  min_events: int) -> list[dict]:
    """AUC (with Mann–Whitney p), logistic OR per SD, and ER-adjusted OR for one score."""
    n = len(pcr)
    events = int(pcr.sum())
    non_events = n - events
    base = {**base, "endpoint": "pcr", "n": n, "events": events}
    rows = []
    few = min(events, non_events) < min_events
    why = f"not fitted: {events} pCR / {non_events} non-pCR (minimum {min_events} each)"
    if min(events, non_events) >= 1:
        auc, se, lo, hi = stats.auc_delong(score, pcr)
        p = float(mannwhitneyu(score[pcr == 1], score[pcr == 0],
                               alternative="two-sided").pvalue)
        rows.append(_row(**base, model="auc", formula="AUC(score → pCR); p: Mann–Whitney",
                         effect_type="AUC", effect=auc, ci_low=lo, ci_high=hi, se=se, p=p,
                         direction="higher score → more pCR" if auc > 0.5
                         else "higher score → less pCR", note="few events" if few else ""))
    z = _zscore(score)
    designs = [("logistic", "pcr ~ z(score)", np.column_stack([np.ones(n), z]))]
    if er is not None:
        designs.append(("logistic_adj_er", "pcr ~ z(score) + er_positive",
                        np.column_stack([np.ones(n), z, er])))
    for model, formula, X in designs:
        if few:
            rows.append(_row(**base, model=model, formula=formula, effect_type="OR per SD",
                             note=why))
            continue
        fit = stats.logistic_fit(X, pcr)
        b, lo, hi, p = fit.wald(1)
        if not fit.converged:
            rows.append(_row(**base, model=model, formula=formula, effect_type="OR per SD",
                             note=f"not fitted: {fit.note}"))
            continue
        rows.append(_row(**base, model=model, formula=formula, effect_type="OR per SD",
                         effect=np.exp(b), ci_low=np.exp(lo), ci_high=np.exp(hi), log_effect=b,
                         se=float(fit.se[1]), p=p,
                         direction="higher score → more pCR" if b > 0 else "higher score → less pCR",
                         note=""))
    return rows


def survival_rows(score: np.ndarray, time: np.ndarray, event: np.ndarray, er: np.ndarray | None,
                  *, base: dict, endpoint: str, min_events: int) -> list[dict]:
    """Cox HR per SD (unadjusted, ER-adjusted) and a median-split log-rank test for one score."""
    n = len(time)
    events = int(event.sum())
    base = {**base, "endpoint": endpoint, "n": n, "events": events}
    why = f"not fitted: {events} event(s) (minimum {min_events})"
    z = _zscore(score)
    high = score > np.median(score)
    designs = [("cox", f"Surv({endpoint}) ~ z(score)", z[:, None])]
    if er is not None:
        designs.append(("cox_adj_er", f"Surv({endpoint}) ~ z(score) + er_positive",
                        np.column_stack([z, er])))
    rows = []
    for model, formula, X in designs:
        if events < min_events:
            rows.append(_row(**base, model=model, formula=formula, effect_type="HR per SD",
                             note=why))
            continue
        fit = stats.cox_fit(X, time, event)
        b, lo, hi, p = fit.wald(0)
        if not fit.converged:
            rows.append(_row(**base, model=model, formula=formula, effect_type="HR per SD",
                             note=f"not fitted: {fit.note}"))
            continue
        rows.append(_row(**base, model=model, formula=formula, effect_type="HR per SD",
                         effect=np.exp(b), ci_low=np.exp(lo), ci_high=np.exp(hi), log_effect=b,
                         se=float(fit.se[0]), p=p,
                         direction="higher score → worse survival" if b > 0
                         else "higher score → better survival", note=""))
    formula = f"log-rank: {endpoint}, score above vs at/below the cohort-subgroup median"
    if events < min_events or high.all() or not high.any():
        rows.append(_row(**base, model="logrank_median", formula=formula,
                         effect_type="HR high vs low", note=why))
    else:
        _, p = stats.logrank_test(time, event, high)
        fit = stats.cox_fit(high.astype(float)[:, None], time, event)
        b, lo, hi, _ = fit.wald(0)
        ok = fit.converged
        rows.append(_row(**base, model="logrank_median", formula=formula,
                         effect_type="HR high vs low", effect=np.exp(b) if ok else np.nan,
                         ci_low=np.exp(lo) if ok else np.nan, ci_high=np.exp(hi) if ok else np.nan,
                         log_effect=b if ok else np.nan, se=float(fit.se[0]) if ok else np.nan,
                         p=p, direction=("high score → worse survival" if b > 0
                                         else "high score → better survival") if ok else "",
                         note="" if ok else f"HR not estimable: {fit.note}"))
    return rows


def add_q(table: pd.DataFrame, family: list[str]) -> pd.DataFrame:
    """Benjamini–Hochberg q within each family (groups of the listed columns)."""
    table = table.copy()
    table["q"] = np.nan
    if table.empty:
        return table
    for _, idx in table.groupby(family, dropna=False).groups.items():
        table.loc[idx, "q"] = stats.benjamini_hochberg(table.loc[idx, "p"].to_numpy(float))
    return table


def associate_cohort(
    obs: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    cohort: str,
    design: str,
    endpoints: dict,
    roles: dict[str, str],
    min_events: int = 5,
    fdr_family: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Response and survival tables for one cohort.

    Parameters
    ----------
    obs
        Cohort ``obs`` (standard vocabulary), indexed by sample.
    scores
        Long scores of this cohort.
    cohort, design
        Cohort id and design tag.
    endpoints
        ``{"response": "pcr" or None, "survival": [endpoint, ...]}`` from the manifest.
    roles
        Signature → role (hypothesis/control), copied into rows.
    min_events
        Minimum events (and non-events for pCR) to fit a model.
    fdr_family
        Columns defining a BH family within the cohort (default subgroup, endpoint, model).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Response rows and survival rows (columns :data:`COLUMNS`).
    """
    family = fdr_family or ["subgroup", "endpoint", "model"]
    response: list[dict] = []
    survival: list[dict] = []
    scored = scores.dropna(subset=["score"])
    wide = {key: grp.set_index("sample")["score"] for key, grp in
            scored.groupby(["signature", "method"], sort=False)}
    for label, question, mask, pooled in subgroups(obs, design):
        mask = mask.to_numpy(bool) if hasattr(mask, "to_numpy") else np.asarray(mask, bool)
        for (signature, method), values in wide.items():
            s_all = values.reindex(obs.index).to_numpy(float)
            base = {"cohort": cohort, "design": design, "question": question, "subgroup": label,
                    "signature": signature, "role": roles.get(signature, ""), "method": method,
                    "pooled": pooled}
            if endpoints.get("response") == "pcr" and "pcr" in obs:
                y = as_float_array(obs["pcr"])
                m = mask & np.isfinite(y) & np.isfinite(s_all)
                if m.sum() >= 2:
                    response += response_rows(s_all[m], y[m].astype(int), _er_covariate(obs, m),
                                              base=base, min_events=min_events)
            for endpoint in endpoints.get("survival", []) or []:
                t = as_float_array(obs[f"{endpoint}_time"])
                e = as_float_array(obs[f"{endpoint}_event"])
                m = mask & np.isfinite(t) & np.isfinite(e) & np.isfinite(s_all)
                if m.sum() >= 2:
                    survival += survival_rows(s_all[m], t[m], e[m].astype(int),
                                              _er_covariate(obs, m), base=base,
                                              endpoint=endpoint, min_events=min_events)
    out = []
    for rows in (response, survival):
        table = pd.DataFrame(rows, columns=COLUMNS)
        out.append(add_q(table, family)[COLUMNS])
    return out[0], out[1]
