"""Meta-analysis of per-cohort effects within one evidence stratum.

Rows are pooled only when they answer the same question: the per-cohort ``question`` (within
trastuzumab-treated patients, score × trastuzumab interaction, untreated arm, prognosis), the
treatment ``era``, the endpoint family (endpoints declared as the same outcome in config
``meta.endpoint_families``), signature, method and model. Within a group the per-cohort log
effects (log OR / log HR) and their standard errors are pooled by

* random effects with τ² by DerSimonian–Laird (DL): the reported estimate;
* the Hartung–Knapp–Sidik–Jonkman (HKSJ) interval and p (t with k − 1 df) around it at every
  k ≥ 2 — the reported interval and p, exactly metafor's ``rma(yi, vi, method = "DL",
  test = "knha")``. The rule was chosen by ``benchmarks/calibration.py``: the DL normal
  interval is anti-conservative with between-cohort heterogeneity, the truncated HKSJ
  (max(1, q)) never rejects with two or three cohorts;
* as extra columns: the inverse-variance fixed effect, the DL normal interval, Paule–Mandel
  τ² with its normal interval, Cochran's Q and its p, I², a 95% prediction interval (t with
  k − 2 df; Higgins et al. 2009) and leave-one-out DL estimates.

The HKSJ scale factor ``q = Σ w*(y − μ)² / (k − 1)`` (w* = 1 / (v + τ²)) multiplies the DL
variance. Where q < 1 the HKSJ standard error is smaller than the DL one and the row is
flagged (``hksj_q_below_1``); the note says whether the interval itself is also narrower than
the DL normal interval (it is when √q · t(k − 1) < z). With two cohorts the note says that a
random-effects interval is fragile and ``cohort_effects`` lists both cohort estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import chdtrc, ndtr, stdtr, stdtrit

from .stats import Z975, benjamini_hochberg

META_COLUMNS = [
    "analysis", "question", "era", "stratum", "signature", "role", "method", "endpoint",
    "endpoints", "model", "effect_type", "k", "cohorts", "n_total", "events_total", "effect",
    "ci_low", "ci_high", "interval", "log_effect", "se", "p", "q", "cohort_effects",
    "fixed_effect", "fixed_ci_low", "fixed_ci_high", "dl_ci_low", "dl_ci_high", "dl_p",
    "pm_effect", "pm_ci_low", "pm_ci_high", "pm_p", "tau2_dl", "tau2_pm", "i2", "q_stat", "q_p",
    "pi_low", "pi_high", "hksj_ci_low", "hksj_ci_high", "hksj_p", "hksj_q", "hksj_q_below_1",
    "loo_min", "loo_max", "direction", "note",
]
"""Columns of the pooled table written by :func:`pool` (``results/meta/*.tsv``)."""

COMPARE_COLUMNS = ["comparison", *META_COLUMNS]
"""Columns of :func:`compare_models`: the pooled columns plus the comparison label."""

GROUP_KEYS = ["question", "era", "family", "signature", "method", "model"]
"""Per-cohort columns (``family`` derived from ``endpoint``) that define one pooled row."""

REQUIRED_COLUMNS = ["question", "era", "cohort", "signature", "method", "endpoint", "model",
                    "pooled", "log_effect", "se", "n", "events"]
"""Per-cohort columns :func:`pool` needs (``question``/``era`` are missing in pre-strata tables)."""

DEFAULT_FDR_FAMILY = ["question", "era", "endpoint", "model"]
"""Default BH family: every signature × method sharing stratum, endpoint family and model."""


def dersimonian_laird(y: np.ndarray, v: np.ndarray) -> dict:
    """DerSimonian–Laird random-effects pooling of estimates ``y`` with variances ``v``.

    Parameters
    ----------
    y
        Per-cohort estimates (log scale).
    v
        Their sampling variances.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p`` (random effects, normal),
        ``fixed``, ``fixed_se`` (inverse-variance), ``tau2``, ``i2`` (percent), ``q``, ``q_p``,
        ``k``.
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
    """Random-effects estimate, SE, normal 95% CI and p for a given τ².

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p``.
    """
    wr = 1 / (np.asarray(v, float) + tau2)
    est = float(np.sum(wr * np.asarray(y, float)) / np.sum(wr))
    se = float(np.sqrt(1 / np.sum(wr)))
    return {"estimate": est, "se": se, "ci_low": est - Z975 * se, "ci_high": est + Z975 * se,
            "p": float(2 * ndtr(-abs(est / se)))}


def paule_mandel(y: np.ndarray, v: np.ndarray) -> float:
    """Paule–Mandel τ²: the value at which the generalised Q equals k − 1 (0 if Q(0) ≤ k − 1)."""
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
    return float(brentq(excess, 0.0, upper, xtol=1e-14, rtol=1e-14))


def hksj(y: np.ndarray, v: np.ndarray, tau2: float, *, truncate: bool = False) -> dict:
    """Hartung–Knapp–Sidik–Jonkman interval around the random-effects estimate (t, k − 1 df).

    Parameters
    ----------
    y, v
        Per-cohort estimates and sampling variances (k ≥ 2).
    tau2
        Between-cohort variance used in the weights (the pipeline uses DL's).
    truncate
        Use ``max(1, q)`` as the scale factor (the "modified" HKSJ of Röver et al. 2015).
        Not the reported rule; kept for the calibration benchmark.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p`` and ``scale`` (the factor q).
    """
    y = np.asarray(y, float)
    k = len(y)
    wr = 1 / (np.asarray(v, float) + tau2)
    est = np.sum(wr * y) / np.sum(wr)
    scale = float(np.sum(wr * (y - est) ** 2) / (k - 1))
    used = max(1.0, scale) if truncate else scale
    se = float(np.sqrt(used / np.sum(wr)))
    t = stdtrit(k - 1, 0.975)
    p = float(2 * stdtr(k - 1, -abs(est / se))) if se > 0 else np.nan
    return {"estimate": float(est), "se": se, "ci_low": float(est - t * se),
            "ci_high": float(est + t * se), "p": p, "scale": scale}


def prediction_interval(estimate: float, se: float, tau2: float, k: int) -> tuple[float, float]:
    """95% prediction interval for the effect in a new cohort (Higgins et al. 2009); k ≥ 3.

    ``estimate ± t(k − 2) · √(τ² + se²)`` with the DL estimate, τ² and normal-theory SE.
    """
    if k < 3:
        return np.nan, np.nan
    half = stdtrit(k - 2, 0.975) * np.sqrt(tau2 + se**2)
    return estimate - half, estimate + half


def leave_one_out(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """DerSimonian–Laird estimates with each cohort left out in turn (empty when k < 3)."""
    k = len(y)
    if k < 3:
        return np.array([])
    return np.array([dersimonian_laird(np.delete(y, i), np.delete(v, i))["estimate"]
                     for i in range(k)])


def pool_estimates(y: np.ndarray, v: np.ndarray) -> dict:
    """Every pooled quantity of one group, on the log scale (k ≥ 2).

    Parameters
    ----------
    y, v
        Per-cohort log effects and their variances.

    Returns
    -------
    dict
        ``dl`` (:func:`dersimonian_laird`), ``hksj`` (:func:`hksj` with DL τ²), ``pm``
        (:func:`random_effects` with Paule–Mandel τ²), ``tau2_pm``, ``pi`` (prediction
        interval) and ``loo`` (leave-one-out estimates). The reported estimate is
        ``dl["estimate"]`` with ``hksj``'s interval and p.
    """
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    if len(y) < 2:
        raise ValueError(f"pooling needs at least 2 cohorts, got {len(y)}")
    dl = dersimonian_laird(y, v)
    tau2_pm = paule_mandel(y, v)
    return {"dl": dl, "hksj": hksj(y, v, dl["tau2"]), "pm": random_effects(y, v, tau2_pm),
            "tau2_pm": tau2_pm,
            "pi": prediction_interval(dl["estimate"], dl["se"], dl["tau2"], len(y)),
            "loo": leave_one_out(y, v)}


def family_of(families: dict[str, list[str]] | None) -> dict[str, str]:
    """Map each endpoint to its family name (``{"efs": "event_free", ...}``)."""
    out: dict[str, str] = {}
    for family, endpoints in (families or {}).items():
        for endpoint in endpoints:
            if endpoint in out:
                raise ValueError(f"endpoint {endpoint!r} is listed in two endpoint families "
                                 f"({out[endpoint]!r} and {family!r})")
            out[endpoint] = family
    return out


def _check_columns(rows: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(
            "per-cohort statistics table(s) lack column(s) " + ", ".join(missing)
            + " — tables written before evidence strata were introduced cannot be pooled; "
            "rerun the association stage")


def _usable(rows: pd.DataFrame) -> pd.Series:
    """Rows with a finite log effect and a positive SE."""
    le = pd.to_numeric(rows["log_effect"], errors="coerce")
    se = pd.to_numeric(rows["se"], errors="coerce")
    return np.isfinite(le) & np.isfinite(se) & (se > 0)


def _select_endpoints(rows: pd.DataFrame, families: dict[str, list[str]] | None) -> pd.DataFrame:
    """Keep, per cohort × question × era × family, one endpoint: the first of the family's list.

    The first listed endpoint for which the cohort has an estimate in any of its rows of the
    stratum (so the choice depends on data availability, never on a result, and is the same
    for every signature, method and model); if none has an estimate, the first listed present.
    """
    fam = family_of(families)
    rows = rows.assign(family=[fam.get(e, e) for e in rows["endpoint"]])
    order = {e: i for endpoints in (families or {}).values() for i, e in enumerate(endpoints)}
    rows = rows.assign(_rank=[order.get(e, 0) for e in rows["endpoint"]],
                       _usable=_usable(rows).to_numpy())
    keys = ["cohort", "question", "era", "family"]
    key = rows["_rank"] + np.where(rows["_usable"], 0, 10_000)
    best = key.groupby([rows[c] for c in keys], dropna=False).transform("min") % 10_000
    return rows[(rows["_rank"] == best).to_numpy()].drop(columns=["_rank", "_usable"])


def _check_duplicates(rows: pd.DataFrame) -> None:
    counts = rows.groupby([*GROUP_KEYS, "cohort"], dropna=False).size()
    dup = counts[counts > 1]
    if len(dup):
        key = dup.index[0]
        named = dict(zip([*GROUP_KEYS, "cohort"], key, strict=True))
        raise ValueError(
            f"cohort {named['cohort']!r} has {int(dup.iloc[0])} pooled rows for question "
            f"{named['question']!r}, era {named['era']!r}, endpoint family {named['family']!r}, "
            f"{named['signature']} / {named['method']} / {named['model']}: a cohort may "
            "contribute one estimate per pooled row (mark one subgroup pooled = False)")


def _fmt(x: float) -> str:
    return f"{x:.2f}" if 0.1 <= abs(x) < 100 else f"{x:.3g}"


def _cohort_effects(usable: pd.DataFrame, mixed: bool) -> str:
    parts = []
    for _, r in usable.iterrows():
        name = f"{r['cohort']} [{r['endpoint']}]" if mixed else str(r["cohort"])
        b, s = float(r["log_effect"]), float(r["se"])
        parts.append(f"{name}: {_fmt(np.exp(b))} ({_fmt(np.exp(b - Z975 * s))}–"
                     f"{_fmt(np.exp(b + Z975 * s))})")
    return "; ".join(parts)


def _direction(question: str, family: str, effect_type: str, estimate: float) -> str:
    """Direction text of a pooled row, naming what the effect compares."""
    up = estimate > 0
    if effect_type == "OR trastuzumab vs not":
        return "trastuzumab → " + ("more pCR" if up else "less pCR")
    what = "HER2-enriched" if "HER2-E" in effect_type else "higher score"
    if "interaction" in question:
        subject = "HER2-enriched" if "HER2-E" in effect_type else "score"
        return (f"{subject}'s OR for pCR " + ("higher" if up else "lower")
                + (" with trastuzumab than without" if question == "trastuzumab_interaction"
                   else " in the contrast arm than in the reference arm"))
    if family == "pcr":
        return f"{what} → " + ("more pCR" if up else "less pCR")
    return f"{what} → " + ("worse survival" if up else "better survival")


def _notes(k: int, hk: dict, dl: dict, skipped: int) -> list[str]:
    notes = []
    if k == 2:
        notes.append("random-effects interval from two cohorts is fragile (τ² is estimated from "
                     "one contrast); see cohort_effects")
    if hk["scale"] < 1:
        narrower = hk["ci_high"] - hk["ci_low"] < dl["ci_high"] - dl["ci_low"]
        notes.append(f"HKSJ q = {hk['scale']:.3g} < 1: HKSJ SE below the DL normal SE"
                     + ("; HKSJ interval narrower than the DL normal interval" if narrower
                        else " (interval still wider: t quantile)"))
    if skipped:
        notes.append(f"{skipped} cohort(s) without an estimate")
    return notes


def _pool_group(grp: pd.DataFrame, min_cohorts: int, families: dict[str, list[str]] | None,
                ) -> dict:
    """One pooled row (linear effect scale) from the per-cohort rows of one group."""
    first = grp.iloc[0]
    ok = _usable(grp).to_numpy()
    usable = grp[ok]
    skipped = int((~ok).sum())
    listed = (families or {}).get(first["family"], [first["family"]])
    pooled_eps = sorted(set(usable["endpoint"]), key=lambda e: listed.index(e)
                        if e in listed else len(listed))
    stratum = ("; ".join(dict.fromkeys(grp["stratum"].astype(str))) if "stratum" in grp
               else str(first["question"]))
    base = {"question": first["question"], "era": first["era"], "stratum": stratum,
            "signature": first["signature"], "role": first.get("role", ""),
            "method": first["method"], "endpoint": first["family"],
            "endpoints": ",".join(pooled_eps), "model": first["model"],
            "effect_type": first.get("effect_type", ""), "k": len(usable),
            "cohorts": ",".join(usable["cohort"].astype(str)),
            "n_total": int(usable["n"].sum()), "events_total": int(usable["events"].sum()),
            "cohort_effects": _cohort_effects(usable, len(pooled_eps) > 1)}
    if len(usable) < max(min_cohorts, 2):
        note = [f"not pooled: {len(usable)} cohort(s) (minimum {max(min_cohorts, 2)})"]
        if skipped:
            note.append(f"{skipped} cohort(s) without an estimate")
        return {**base, "note": "; ".join(note)}
    y = usable["log_effect"].to_numpy(float)
    res = pool_estimates(y, usable["se"].to_numpy(float) ** 2)
    dl, hk, pm, pi, loo = res["dl"], res["hksj"], res["pm"], res["pi"], res["loo"]
    k = len(y)
    return {
        **base, "effect": np.exp(dl["estimate"]), "ci_low": np.exp(hk["ci_low"]),
        "ci_high": np.exp(hk["ci_high"]), "interval": f"HKSJ t({k - 1}), DL τ²",
        "log_effect": dl["estimate"], "se": hk["se"], "p": hk["p"],
        "fixed_effect": np.exp(dl["fixed"]),
        "fixed_ci_low": np.exp(dl["fixed"] - Z975 * dl["fixed_se"]),
        "fixed_ci_high": np.exp(dl["fixed"] + Z975 * dl["fixed_se"]),
        "dl_ci_low": np.exp(dl["ci_low"]), "dl_ci_high": np.exp(dl["ci_high"]), "dl_p": dl["p"],
        "pm_effect": np.exp(pm["estimate"]), "pm_ci_low": np.exp(pm["ci_low"]),
        "pm_ci_high": np.exp(pm["ci_high"]), "pm_p": pm["p"], "tau2_dl": dl["tau2"],
        "tau2_pm": res["tau2_pm"], "i2": dl["i2"], "q_stat": dl["q"], "q_p": dl["q_p"],
        "pi_low": np.exp(pi[0]), "pi_high": np.exp(pi[1]),
        "hksj_ci_low": np.exp(hk["ci_low"]), "hksj_ci_high": np.exp(hk["ci_high"]),
        "hksj_p": hk["p"], "hksj_q": hk["scale"], "hksj_q_below_1": bool(hk["scale"] < 1),
        "loo_min": np.exp(loo.min()) if len(loo) else np.nan,
        "loo_max": np.exp(loo.max()) if len(loo) else np.nan,
        "direction": _direction(str(first["question"]), str(first["family"]),
                                str(first["effect_type"]), dl["estimate"]),
        "note": "; ".join(_notes(k, hk, dl, skipped))}


def _prepare(tables: list[pd.DataFrame], families: dict[str, list[str]] | None
             ) -> pd.DataFrame | None:
    """Pooled, non-AUC rows of all tables with one endpoint per cohort and family."""
    frames = [t for t in tables if not t.empty]
    if not frames:
        return None
    rows = pd.concat(frames, ignore_index=True)
    _check_columns(rows)
    rows = rows[rows["pooled"].astype(bool) & rows["model"].ne("auc")]
    rows = _select_endpoints(rows, families)
    _check_duplicates(rows)
    return rows


def _finish(out: list[dict], columns: list[str], fdr_family: list[str],
            primary: dict | None) -> pd.DataFrame:
    """Mark the primary row, add BH q within ``fdr_family`` and put the primary first."""
    table = pd.DataFrame(out, columns=columns)
    if table.empty:
        return table
    missing = [c for c in fdr_family if c not in table.columns]
    if missing:
        raise ValueError(f"fdr_family names unknown column(s): {', '.join(missing)}")
    table["hksj_q_below_1"] = table["hksj_q_below_1"].astype("boolean")
    table["analysis"] = ["primary" if _is_primary(r, primary) else "exploratory"
                         for _, r in table.iterrows()]
    table["q"] = np.nan
    for _, idx in table.groupby(fdr_family, dropna=False).groups.items():
        table.loc[idx, "q"] = benjamini_hochberg(table.loc[idx, "p"].to_numpy(float))
    primaries = table[table["analysis"] == "primary"]
    if len(primaries) > 1:  # strata guarantee one; two would mean mixed evidence
        raise ValueError("more than one pooled row matches the primary hypothesis: "
                         + "; ".join(f"{r.question} · {r.era} · {r.endpoint}"
                                     for r in primaries.itertuples()))
    order = (table["analysis"] != "primary").argsort(kind="stable")
    return table.iloc[order].reset_index(drop=True)


def _is_primary(row: pd.Series, primary: dict | None) -> bool:
    """The row answers the pre-specified primary: within trastuzumab-treated evidence only."""
    if not primary:
        return False
    if row["question"] != primary.get("question", "within_trastuzumab"):
        return False
    if "era" in primary and row["era"] != primary["era"]:
        return False
    return all(row[c] == primary[c] for c in ("signature", "method", "endpoint", "model"))


def pool(tables: list[pd.DataFrame], *, min_cohorts: int = 2,
         endpoint_families: dict[str, list[str]] | None = None,
         fdr_family: list[str] | None = None, primary: dict | None = None) -> pd.DataFrame:
    """Pool the ``pooled`` rows of per-cohort tables within each evidence stratum.

    Parameters
    ----------
    tables
        Per-cohort statistics tables (``results/stats/{cohort}/*.tsv``); they must carry
        ``question`` and ``era`` (older tables raise ``ValueError`` naming the columns).
    min_cohorts
        Groups with fewer cohorts with an estimate are listed but not pooled (at least 2).
    endpoint_families
        Family name → endpoints counted as the same outcome, in order of preference
        (config ``meta.endpoint_families``). An endpoint in no family is its own family.
        A cohort contributes one endpoint per family (see :func:`_select_endpoints`).
    fdr_family
        Output columns defining one Benjamini–Hochberg family
        (default :data:`DEFAULT_FDR_FAMILY`).
    primary
        The pre-specified hypothesis (config ``primary``): ``signature``, ``method``,
        ``endpoint`` (a family name), ``model``; optionally ``question`` (default
        ``within_trastuzumab``) and ``era``. Only matching rows get ``analysis = primary``.

    Returns
    -------
    pandas.DataFrame
        :data:`META_COLUMNS`, one row per question × era × endpoint family × signature ×
        method × model, the primary first. ``effect`` is the DL estimate, ``ci_low``/
        ``ci_high``/``p``/``se`` the HKSJ ones (metafor ``rma(method = "DL", test = "knha")``).

    Raises
    ------
    ValueError
        Tables without ``question``/``era``; a cohort with two rows in one pooled group.
    """
    rows = _prepare(tables, endpoint_families)
    if rows is None or rows.empty:
        return pd.DataFrame(columns=META_COLUMNS)
    out = [_pool_group(grp, min_cohorts, endpoint_families)
           for _, grp in rows.groupby(GROUP_KEYS, sort=False, dropna=False)]
    return _finish(out, META_COLUMNS, fdr_family or DEFAULT_FDR_FAMILY, primary)


def compare_models(tables: list[pd.DataFrame], *models: str, min_cohorts: int = 2,
                   endpoint_families: dict[str, list[str]] | None = None,
                   fdr_family: list[str] | None = None, primary: dict | None = None
                   ) -> pd.DataFrame:
    """Pool several models (e.g. unadjusted vs adjusted) over exactly the same cohorts.

    For each question × era × endpoint family × signature × method, only cohorts with an
    estimate under every one of ``models`` (same endpoint: the endpoint choice of :func:`pool`
    does not depend on the model) enter any pooled row, so the pooled effects differ only by
    the model. Cohorts dropped because a model has no estimate are named in ``note``. BH q is
    computed within this table only (use ``pool``'s q for the main results).

    Parameters
    ----------
    tables
        Per-cohort statistics tables, as for :func:`pool`.
    *models
        Two or more model names, e.g. ``"logistic"``, ``"logistic_adj"``.
    min_cohorts, endpoint_families, fdr_family, primary
        As for :func:`pool`.

    Returns
    -------
    pandas.DataFrame
        :data:`COMPARE_COLUMNS`: for each group one row per model (in the order given), the
        same ``cohorts`` in all, ``comparison`` = ``"<m1> vs <m2> …, same cohorts"``.
    """
    rows = _prepare(tables, endpoint_families)
    if rows is None or rows.empty:
        return pd.DataFrame(columns=COMPARE_COLUMNS)
    rows = rows[rows["model"].isin(models)]
    rows = rows[_usable(rows).to_numpy()]
    label = " vs ".join(models) + ", same cohorts"
    out = []
    keys = [c for c in GROUP_KEYS if c != "model"]
    for _, grp in rows.groupby(keys, sort=False, dropna=False):
        per_model = [set(grp.loc[grp["model"] == m, "cohort"]) for m in models]
        common = set.intersection(*per_model)
        dropped = sorted(set.union(*per_model) - common)
        for model in models:
            sub = grp[(grp["model"] == model) & grp["cohort"].isin(common)]
            if sub.empty:
                continue
            row = _pool_group(sub, min_cohorts, endpoint_families)
            if dropped:
                row["note"] = "; ".join(filter(None, [
                    row.get("note", ""), "left out (an estimate under one model only): "
                    + ", ".join(map(str, dropped))]))
            out.append({"comparison": label, **row})
    return _finish(out, COMPARE_COLUMNS, fdr_family or DEFAULT_FDR_FAMILY, primary)
