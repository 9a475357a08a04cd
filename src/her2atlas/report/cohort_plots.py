"""Per-cohort figures: expression QC, PCA, score by arm, score by pCR, ROC, Kaplan–Meier."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import figures, stats
from ..association import Settings, subgroups
from ..clinical import as_float_array
from .figure_store import FigureStore

FIGURE_QUESTIONS = ("within_trastuzumab", "prognosis")


def _pca_groups(obs: pd.DataFrame) -> pd.Series:
    if "pcr" in obs and obs["pcr"].notna().any():
        return obs["pcr"].map({1: "pCR", 0: "RD"}).rename("pCR")
    if "arm" in obs and obs["arm"].nunique() > 1:
        return obs["arm"].rename("arm")
    if "her2_status" in obs:
        return obs["her2_status"].rename("HER2")
    return pd.Series("all", index=obs.index, name="samples")


def qc_figures(store: FigureStore, obs: pd.DataFrame, X: np.ndarray, scores: pd.DataFrame,
               cohort: str, primary: dict | None, qc: dict) -> list[dict]:
    """Expression distributions, PCA coloured by pCR (or arm / HER2), primary score by arm."""
    out = [store.add(f"{cohort}_expression", figures.sample_distributions, qc,
                     title=f"{cohort}: log2 expression per sample",
                     alt=f"Per-sample expression distribution in {cohort}",
                     caption="Per-sample log2 expression quantiles after harmonisation.")]
    groups = _pca_groups(obs)
    if X.shape[0] >= 3:
        out.append(store.add(f"{cohort}_pca", figures.pca_plot, X, groups,
                             title=f"{cohort}: PCA",
                             alt=f"PCA of {cohort} coloured by {groups.name}",
                             caption="First two principal components (2,000 most variable "
                                     f"genes), coloured by {groups.name}."))
    arm = next((obs[c].rename(c) for c in ("arm", "trastuzumab", "her2_status")
                if c in obs and obs[c].nunique() > 1), None)
    if arm is None or not primary or not len(scores):
        return out
    sel = scores[(scores["signature"] == primary["signature"])
                 & (scores["method"] == primary["method"])]
    if len(sel) and sel["score_z"].notna().any():
        values = sel.set_index("sample")["score_z"].reindex(obs.index).to_numpy(float)
        ok = np.isfinite(values)
        out.append(store.add(
            f"{cohort}_primary_by_{arm.name}", figures.score_by_category, values[ok], arm[ok],
            title=f"{primary['signature']} ({primary['method']}) by {arm.name}",
            alt=f"{primary['signature']} score by {arm.name} in {cohort}",
            caption=f"Primary signature score (z within the cohort) by {arm.name}."))
    return out


def analysed_mask(obs: pd.DataFrame, design: str) -> np.ndarray:
    """Samples of the within-trastuzumab (or prognosis) subgroups, as the association selects."""
    mask = np.zeros(len(obs), bool)
    for _label, question, sub, _pooled in subgroups(obs, design):
        if question in FIGURE_QUESTIONS:
            mask |= np.asarray(sub, bool)
    return mask


def response_figures(store: FigureStore, obs: pd.DataFrame, wide: pd.DataFrame, named: list,
                     mask: np.ndarray, cohort: str, method: str) -> list[dict]:
    """Score by pCR per signature, and ROC curves of the hypothesis signatures."""
    y = as_float_array(obs["pcr"])
    out, curves = [], []
    for sig in named:
        s = wide[sig.name].reindex(obs.index).to_numpy(float)
        m = mask & np.isfinite(y) & np.isfinite(s)
        if m.sum() < 4 or len(set(y[m])) < 2:
            continue
        z = (s[m] - s[m].mean()) / (s[m].std(ddof=1) or 1)
        out.append(store.add(
            f"{cohort}_pcr_{sig.name}", figures.score_by_group, z, y[m].astype(int),
            ("RD", "pCR"), title=f"{sig.name} ({method})",
            alt=f"{sig.name} {method} score by pCR status in {cohort}",
            caption=f"{sig.name} ({method}) score, z within the analysed HER2+ subgroup, for "
                    "residual disease vs pCR."))
        if sig.role == "hypothesis":
            auc = stats.auc_delong(s[m], y[m].astype(int))[0]
            curves.append((sig.name, s[m], y[m].astype(int), auc))
    if curves:
        out.insert(0, store.add(
            f"{cohort}_roc", figures.roc, curves, title=f"ROC for pCR ({method})",
            alt=f"ROC curves of hypothesis signatures for pCR in {cohort}",
            caption="ROC curves: score predicting pCR (AUC > 0.5: higher score → more pCR)."))
    return out


def _split(s: np.ndarray, survival_split: str) -> tuple[np.ndarray, list, str]:
    if survival_split == "tertile":
        group = np.digitize(s, np.quantile(s, [1 / 3, 2 / 3]), right=True)
        names = ["low tertile", "middle tertile", "high tertile"]
        return group, [(n, group == g) for g, n in enumerate(names)], "tertiles"
    group = (s > np.median(s)).astype(int)
    return group, [("low score", group == 0), ("high score", group == 1)], \
        "above vs at/below the median"


def survival_figures(store: FigureStore, obs: pd.DataFrame, wide: pd.DataFrame, named: list,
                     mask: np.ndarray, cohort: str, method: str, endpoints: list[str],
                     settings: Settings) -> list[dict]:
    """Kaplan–Meier curves by the pre-specified split, per endpoint and signature."""
    out = []
    for endpoint in endpoints:
        t = as_float_array(obs[f"{endpoint}_time"])
        e = as_float_array(obs[f"{endpoint}_event"])
        if settings.horizon_months:
            e = np.where(t > settings.horizon_months, 0, e)
            t = np.minimum(t, settings.horizon_months)
        for sig in named:
            s = wide[sig.name].reindex(obs.index).to_numpy(float)
            m = mask & np.isfinite(t) & np.isfinite(e) & np.isfinite(s)
            if m.sum() < 4 or e[m].sum() < 1:
                continue
            group, groups, split = _split(s[m], settings.survival_split)
            _, p = stats.logrank_test_k(t[m], e[m].astype(int), group)
            out.append(store.add(
                f"{cohort}_km_{endpoint}_{sig.name}", figures.kaplan_meier_plot, t[m],
                e[m].astype(int), groups, title=f"{sig.name} ({method})", p_value=p,
                endpoint=endpoint,
                alt=f"Kaplan-Meier {endpoint} by {sig.name} {split} in {cohort}",
                caption=f"{endpoint.upper()} by {sig.name} ({method}) {split} (pre-specified "
                        "split), numbers at risk below."))
    return out


def outcome_figures(store: FigureStore, obs: pd.DataFrame, scores: pd.DataFrame,
                    response: pd.DataFrame, survival: pd.DataFrame, signatures, cohort: str,
                    settings: Settings, design: str) -> tuple[list, list]:
    """pCR and survival figures of the hypothesis (and demo) signatures in one cohort."""
    if not len(scores):
        return [], []
    method = scores["method"].iloc[0]
    first = scores[scores["method"] == method]
    wide = first.pivot(index="sample", columns="signature", values="score")
    mask = analysed_mask(obs, design)
    # figures for the hypothesis (and demo) signatures; controls are in the tables
    named = [s for s in signatures if s.name in wide.columns and wide[s.name].notna().any()
             and s.role != "control"]
    resp = response_figures(store, obs, wide, named, mask, cohort, method) \
        if len(response) and "pcr" in obs else []
    surv = survival_figures(store, obs, wide, named, mask, cohort, method,
                            sorted(survival["endpoint"].unique()), settings) \
        if len(survival) else []
    return resp, surv
