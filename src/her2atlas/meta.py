"""Meta-analysis of per-cohort effects: fixed and random effects, heterogeneity, sensitivity.

For each signature × method × endpoint × model, the per-cohort log effects (log OR / log HR)
and their standard errors are pooled by

* the inverse-variance fixed effect;
* random effects with τ² by DerSimonian–Laird (reported estimate) and by Paule–Mandel;
* a Hartung–Knapp–Sidik–Jonkman (HKSJ) interval (t with k − 1 df) used as the reported
  interval when there are fewer than ``hksj_below`` cohorts;
* Cochran's Q and its p, I², τ², a 95% prediction interval (t with k − 2 df; Higgins et al. 2009)
  and leave-one-out estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import chdtrc, ndtr, stdtr, stdtrit

from .stats import Z975, benjamini_hochberg

META_COLUMNS = [
    "analysis", "signature", "role", "method", "endpoint", "model", "effect_type", "k", "cohorts",
    "n_total", "events_total", "effect", "ci_low", "ci_high", "interval", "log_effect", "se",
    "p", "q", "fixed_effect", "fixed_ci_low", "fixed_ci_high", "pm_effect", "pm_ci_low",
    "pm_ci_high", "tau2_dl", "tau2_pm", "i2",
    "q_stat", "q_p", "pi_low", "pi_high", "hksj_ci_low", "hksj_ci_high", "hksj_p",
    "loo_min", "loo_max", "direction", "note",
]


def dersimonian_laird(y: np.ndarray, v: np.ndarray) -> dict:
    """DerSimonian–Laird random-effects pooling of estimates ``y`` with variances ``v``.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p`` (random effects), ``fixed``,
        ``fixed_se`` (inverse-variance), ``tau2``, ``i2`` (percent), ``q``, ``q_p``, ``k``.
    """
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    k = len(y)
    w = 1 / v
    fixed = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - fixed) ** 2))
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 else 0.0
    res = random_effects(y, v, tau2)
    i2 = max(0.0, (q - (k - 1)) / q) * 100 if q > 0 and k > 1 else 0.0
    return {**res, "fixed": fixed, "fixed_se": float(np.sqrt(1 / np.sum(w))), "tau2": float(tau2),
            "i2": float(i2), "q": q, "q_p": float(chdtrc(k - 1, q)) if k > 1 else np.nan,
            "k": k}


def random_effects(y: np.ndarray, v: np.ndarray, tau2: float) -> dict:
    """Random-effects estimate, SE, normal 95% CI and p for a given τ²."""
    wr = 1 / (v + tau2)
    est = float(np.sum(wr * y) / np.sum(wr))
    se = float(np.sqrt(1 / np.sum(wr)))
    return {"estimate": est, "se": se, "ci_low": est - Z975 * se, "ci_high": est + Z975 * se,
            "p": float(2 * ndtr(-abs(est / se)))}


def paule_mandel(y: np.ndarray, v: np.ndarray) -> float:
    """Paule–Mandel τ²: the value at which the generalised Q equals k − 1."""
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    k = len(y)
    if k < 2:
        return 0.0

    def excess(tau2):
        w = 1 / (v + tau2)
        mu = np.sum(w * y) / np.sum(w)
        return np.sum(w * (y - mu) ** 2) - (k - 1)

    if excess(0.0) <= 0:
        return 0.0
    upper = max(1.0, np.var(y) * 10)
    while excess(upper) > 0:
        upper *= 10
    from scipy.optimize import brentq

    return float(brentq(excess, 0.0, upper, xtol=1e-12))


def hksj(y: np.ndarray, v: np.ndarray, tau2: float) -> dict:
    """Hartung–Knapp–Sidik–Jonkman interval around the random-effects estimate (t, k − 1 df)."""
    k = len(y)
    wr = 1 / (v + tau2)
    est = np.sum(wr * y) / np.sum(wr)
    scale = np.sum(wr * (y - est) ** 2) / (k - 1)
    se = float(np.sqrt(scale / np.sum(wr)))
    t = stdtrit(k - 1, 0.975)
    p = float(2 * stdtr(k - 1, -abs(est / se))) if se > 0 else np.nan
    return {"estimate": float(est), "se": se, "ci_low": float(est - t * se),
            "ci_high": float(est + t * se), "p": p}


def prediction_interval(estimate: float, se: float, tau2: float, k: int) -> tuple[float, float]:
    """95% prediction interval for the effect in a new cohort (Higgins et al. 2009); k ≥ 3."""
    if k < 3:
        return np.nan, np.nan
    half = stdtrit(k - 2, 0.975) * np.sqrt(tau2 + se**2)
    return estimate - half, estimate + half


def leave_one_out(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """DerSimonian–Laird estimates with each cohort left out in turn."""
    k = len(y)
    if k < 3:
        return np.array([])
    return np.array([dersimonian_laird(np.delete(y, i), np.delete(v, i))["estimate"]
                     for i in range(k)])


def pool(tables: list[pd.DataFrame], *, min_cohorts: int = 2, hksj_below: int = 5,
         fdr_family: list[str] | None = None, primary: dict | None = None) -> pd.DataFrame:
    """Pool the ``pooled`` rows of per-cohort tables by signature × method × endpoint × model.

    Rows without an estimate (not fitted) are left out and counted in ``note``. The reported
    interval (``ci_low``/``ci_high``) is the DerSimonian–Laird normal interval, or the HKSJ
    interval when fewer than ``hksj_below`` cohorts contribute (``interval`` says which).
    """
    family = fdr_family or ["endpoint", "model"]
    frames = [t for t in tables if not t.empty]
    if not frames:
        return pd.DataFrame(columns=META_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows["pooled"].astype(bool) & rows["model"].ne("auc")]
    out = []
    keys = ["signature", "method", "endpoint", "model"]
    for (signature, method, endpoint, model), grp in rows.groupby(keys, sort=False):
        usable = grp.dropna(subset=["log_effect", "se"])
        usable = usable[usable["se"] > 0]
        skipped = len(grp) - len(usable)
        base = {"signature": signature, "role": grp["role"].iloc[0], "method": method,
                "endpoint": endpoint, "model": model, "effect_type": grp["effect_type"].iloc[0],
                "k": len(usable), "cohorts": ",".join(usable["cohort"]),
                "n_total": int(usable["n"].sum()), "events_total": int(usable["events"].sum())}
        note = f"{skipped} cohort(s) without an estimate" if skipped else ""
        if len(usable) < min_cohorts:
            out.append({**base, "note": "; ".join(filter(None, [
                f"not pooled: {len(usable)} cohort(s) (minimum {min_cohorts})", note]))})
            continue
        y = usable["log_effect"].to_numpy(float)
        v = usable["se"].to_numpy(float) ** 2
        dl = dersimonian_laird(y, v)
        tau2_pm = paule_mandel(y, v)
        pm = random_effects(y, v, tau2_pm)
        hk = hksj(y, v, dl["tau2"]) if len(y) > 1 else None
        use_hksj = hk is not None and len(y) < hksj_below
        lo, hi, p = (hk["ci_low"], hk["ci_high"], hk["p"]) if use_hksj else (
            dl["ci_low"], dl["ci_high"], dl["p"])
        pi = prediction_interval(dl["estimate"], dl["se"], dl["tau2"], len(y))
        loo = leave_one_out(y, v)
        higher = "higher score → " + (
            ("more pCR" if dl["estimate"] > 0 else "less pCR") if endpoint == "pcr"
            else ("worse survival" if dl["estimate"] > 0 else "better survival"))
        out.append({
            **base, "effect": np.exp(dl["estimate"]), "ci_low": np.exp(lo), "ci_high": np.exp(hi),
            "interval": f"HKSJ t({len(y) - 1})" if use_hksj else "DL normal",
            "log_effect": dl["estimate"], "se": dl["se"], "p": p,
            "fixed_effect": np.exp(dl["fixed"]),
            "fixed_ci_low": np.exp(dl["fixed"] - Z975 * dl["fixed_se"]),
            "fixed_ci_high": np.exp(dl["fixed"] + Z975 * dl["fixed_se"]),
            "pm_effect": np.exp(pm["estimate"]), "pm_ci_low": np.exp(pm["ci_low"]),
            "pm_ci_high": np.exp(pm["ci_high"]), "tau2_dl": dl["tau2"], "tau2_pm": tau2_pm,
            "i2": dl["i2"], "q_stat": dl["q"],
            "q_p": dl["q_p"], "pi_low": np.exp(pi[0]), "pi_high": np.exp(pi[1]),
            "hksj_ci_low": np.exp(hk["ci_low"]) if hk else np.nan,
            "hksj_ci_high": np.exp(hk["ci_high"]) if hk else np.nan,
            "hksj_p": hk["p"] if hk else np.nan,
            "loo_min": np.exp(loo.min()) if len(loo) else np.nan,
            "loo_max": np.exp(loo.max()) if len(loo) else np.nan,
            "direction": higher, "note": note})
    table = pd.DataFrame(out, columns=META_COLUMNS)
    table["analysis"] = [
        "primary" if primary and all(r[c] == primary[c] for c in ("signature", "method",
                                                                   "endpoint", "model"))
        else "exploratory" for _, r in table.iterrows()]
    table["q"] = np.nan
    for _, idx in table.groupby(family, dropna=False).groups.items():
        table.loc[idx, "q"] = benjamini_hochberg(table.loc[idx, "p"].to_numpy(float))
    order = (table["analysis"] != "primary").argsort(kind="stable")
    return table.iloc[order].reset_index(drop=True)
