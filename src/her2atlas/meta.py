"""Random-effects meta-analysis of per-cohort effects (DerSimonian–Laird)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .stats import Z975, benjamini_hochberg

META_COLUMNS = [
    "signature", "role", "method", "endpoint", "model", "effect_type", "k", "cohorts",
    "n_total", "events_total", "effect", "ci_low", "ci_high", "log_effect", "se", "p", "q",
    "tau2", "i2", "q_stat", "q_p", "fixed_effect", "direction", "note",
]


def dersimonian_laird(y: np.ndarray, v: np.ndarray) -> dict:
    """DerSimonian–Laird random-effects pooling of estimates ``y`` with variances ``v``.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p`` (random effects), ``fixed``
        (inverse-variance estimate), ``tau2``, ``i2`` (percent), ``q``, ``q_p``, ``k``.
    """
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    k = len(y)
    w = 1 / v
    fixed = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - fixed) ** 2))
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 else 0.0
    wr = 1 / (v + tau2)
    est = float(np.sum(wr * y) / np.sum(wr))
    se = float(np.sqrt(1 / np.sum(wr)))
    i2 = max(0.0, (q - (k - 1)) / q) * 100 if q > 0 and k > 1 else 0.0
    return {
        "estimate": est, "se": se, "ci_low": est - Z975 * se, "ci_high": est + Z975 * se,
        "p": float(2 * sps.norm.sf(abs(est / se))), "fixed": fixed, "tau2": float(tau2),
        "i2": float(i2), "q": q, "q_p": float(sps.chi2.sf(q, k - 1)) if k > 1 else np.nan,
        "k": k,
    }


def pool(tables: list[pd.DataFrame], *, min_cohorts: int = 2,
         fdr_family: list[str] | None = None) -> pd.DataFrame:
    """Pool the ``pooled`` rows of per-cohort tables by signature × method × endpoint × model.

    Rows without an estimate (not fitted) are left out and counted in ``note``.
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
        res = dersimonian_laird(usable["log_effect"].to_numpy(float),
                                usable["se"].to_numpy(float) ** 2)
        higher = "higher score → " + (
            ("more pCR" if res["estimate"] > 0 else "less pCR") if endpoint == "pcr"
            else ("worse survival" if res["estimate"] > 0 else "better survival"))
        out.append({**base, "effect": np.exp(res["estimate"]), "ci_low": np.exp(res["ci_low"]),
                    "ci_high": np.exp(res["ci_high"]), "log_effect": res["estimate"],
                    "se": res["se"], "p": res["p"], "tau2": res["tau2"], "i2": res["i2"],
                    "q_stat": res["q"], "q_p": res["q_p"], "fixed_effect": np.exp(res["fixed"]),
                    "direction": higher, "note": note})
    table = pd.DataFrame(out, columns=META_COLUMNS)
    table["q"] = np.nan
    for _, idx in table.groupby(family, dropna=False).groups.items():
        table.loc[idx, "q"] = benjamini_hochberg(table.loc[idx, "p"].to_numpy(float))
    return table
