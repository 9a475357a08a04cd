"""Per-cohort association of signature scores with pCR and survival, aware of the cohort design.

Every row answers one question (``question``, see :mod:`her2atlas.strata`) in one subgroup,
in the cohort's treatment era (``era``); ``stratum`` names both. Within a subgroup:

* ``logistic`` / ``cox``: outcome ~ z(score) (plus arm indicators where one estimate pools
  several trastuzumab arms of a trial);
* ``*_adj``: + clinical covariates (complete cases; constant covariates dropped with a note);
* ``*_adj_controls``: + control signature scores (immune, proliferation);
* ``auc`` and the pre-specified ``logrank_*`` split.

Randomised ± trastuzumab trials add the score × trastuzumab interaction
(``trastuzumab_interaction``); multi-arm trials add score × (arm vs the declared reference arm)
rows. The PAM50 HER2-enriched call (``pam50_called``, from expression) is a positive control
in every pCR cohort.

Scores are re-standardised within each model's analysed samples, so effects are per 1 SD there.
Models with few events are not fitted (the row says why); logistic models fall back to Firth's
penalised likelihood (profile-likelihood CI and penalised likelihood-ratio p) under separation
or below ``firth_below_events``. Cox rows carry the proportional-hazards test and a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import model_specs as ms
from . import stats
from .clinical import as_float_array
from .strata import CohortDesign, era_of, reference_arm, stratum_label, subgroups

COLUMNS = [
    "analysis", "cohort", "design", "question", "era", "stratum", "subgroup", "signature", "role",
    "method", "endpoint", "model", "formula", "covariates", "estimator", "ci_method", "n",
    "events", "effect_type", "effect", "ci_low", "ci_high", "log_effect", "se", "p", "q",
    "direction", "ph_p", "ph_flag", "pooled", "note",
]

HER2E_SIGNATURE = "PAM50_HER2E"
HER2E = (HER2E_SIGNATURE, "pam50_called")


def is_her2e(key: tuple[str, str]) -> bool:
    """True for the HER2-enriched positive-control indicator (called or published PAM50)."""
    return key[0] == HER2E_SIGNATURE

__all__ = ["COLUMNS", "Settings", "associate_cohort", "subgroups", "CohortDesign"]


@dataclass
class Settings:
    """Association settings (the ``association`` section of the config)."""

    min_events: int = 5
    fdr_family: list[str] = field(default_factory=lambda: ["subgroup", "endpoint", "model"])
    adjust_for: list[str] = field(default_factory=lambda: ["er_status"])
    adjust_controls: list[str] = field(default_factory=list)
    firth: str = "auto"
    firth_below_events: int = 10
    survival_split: str = "median"
    horizon_months: float | None = None
    strata: list[str] = field(default_factory=list)
    ph_transform: str = "rank"
    ph_alpha: float = 0.05
    auc_ci: str = "delong"

    @classmethod
    def from_config(cls, section: dict | None) -> Settings:
        """Build from the config section; unknown keys are rejected by the schema first."""
        return cls(**{k: v for k, v in (section or {}).items() if k in cls.__dataclass_fields__})


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = np.std(x, ddof=1) if len(x) > 1 else 0.0
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _row(**kw) -> dict:
    row = dict.fromkeys(COLUMNS, np.nan)
    row.update(kw)
    return row


def _direction_pcr(b: float, what: str = "higher score") -> str:
    return f"{what} → more pCR" if b > 0 else f"{what} → less pCR"


def _direction_surv(b: float) -> str:
    return "higher score → worse survival" if b > 0 else "higher score → better survival"


SPARSE_CELL = 5  # a 0/1 predictor with a predictor × outcome cell below this is fitted by Firth


def sparse_cell(x: np.ndarray, y: np.ndarray) -> int:
    """Smallest cell of the 2 × 2 table of a 0/1 predictor ``x`` by the outcome ``y``."""
    return int(min(((x == a) & (y == b)).sum() for a in (0, 1) for b in (0, 1)))


def fit_logistic(X: np.ndarray, y: np.ndarray, settings: Settings, *,
                 binary_column: int | None = None) -> tuple[stats.Fit, str]:
    """ML logistic regression, or Firth when configured, events are few, or ML separates.

    ``binary_column``: a 0/1 predictor whose sparse 2 × 2 cells (below :data:`SPARSE_CELL`)
    also call for Firth, since the ML Wald interval is unreliable there.
    """
    events = min(int(y.sum()), int(len(y) - y.sum()))
    if settings.firth == "auto" and binary_column is not None:
        smallest = sparse_cell(X[:, binary_column], y)
        if smallest < SPARSE_CELL:
            return stats.firth_logistic_fit(X, y), f"Firth (2 × 2 cell of {smallest})"
    if settings.firth == "always" or (settings.firth == "auto"
                                      and events < settings.firth_below_events):
        return stats.firth_logistic_fit(X, y), "Firth"
    fit = stats.logistic_fit(X, y)
    if not fit.converged and settings.firth == "auto":
        return stats.firth_logistic_fit(X, y), "Firth (ML failed: " + fit.note + ")"
    return fit, "ML"


def inference(fit: stats.Fit, j: int) -> tuple[float, float, float, float, str]:
    """(log effect, lower, upper, p, CI method): profile for Firth fits, Wald otherwise."""
    return (*fit.inference(j), fit.ci_method)


def _logistic_row(X: np.ndarray, y: np.ndarray, j: int, *, base: dict, settings: Settings,
                  effect_type: str, direction, binary_column: int | None = None) -> dict:
    """Fit ``y ~ X`` and report coefficient ``j`` as an OR row (or the reason it failed)."""
    fit, estimator = fit_logistic(X, y, settings, binary_column=binary_column)
    return logistic_fit_row(fit, estimator, j, base=base, effect_type=effect_type,
                            direction=direction)


def logistic_fit_row(fit: stats.Fit, estimator: str, j: int, *, base: dict, effect_type: str,
                     direction) -> dict:
    """The OR row of a fitted logistic model for coefficient ``j`` (or why it failed)."""
    if not fit.converged:
        return _row(**{**base, "estimator": estimator, "effect_type": effect_type,
                       "note": "; ".join(filter(None, [f"not fitted: {fit.note}",
                                                       base.get("note")]))})
    b, lo, hi, p, how = inference(fit, j)
    return _row(**{**base, "estimator": estimator, "ci_method": how,
                   "effect_type": effect_type, "effect": np.exp(b), "ci_low": np.exp(lo),
                   "ci_high": np.exp(hi), "log_effect": b, "se": float(fit.se[j]), "p": p,
                   "direction": direction(b)})


def _spec_base(base: dict, spec: ms.ModelSpec, events: int, n: int) -> dict:
    return {**base, "model": spec.model, "formula": spec.formula, "n": n, "events": events,
            "covariates": ";".join(spec.covariates), "note": spec.note}


def _auc_row(score: np.ndarray, pcr: np.ndarray, *, base: dict, settings: Settings) -> dict:
    from scipy.stats import mannwhitneyu  # imported here: slow to import, pCR only

    auc, se, lo, hi = stats.auc_delong(score, pcr, ci=settings.auc_ci)
    p = float(mannwhitneyu(score[pcr == 1], score[pcr == 0], alternative="two-sided").pvalue)
    how = ("DeLong SE, normal interval on the AUC scale (pROC)" if settings.auc_ci == "delong"
           else "DeLong SE, logit-scale interval")
    few = min(int(pcr.sum()), len(pcr) - int(pcr.sum())) < settings.min_events
    return _row(**base, model="auc", formula="AUC(score → pCR); p: Mann–Whitney",
                n=len(pcr), events=int(pcr.sum()), covariates="", estimator="DeLong",
                ci_method=how, effect_type="AUC", effect=auc, ci_low=lo, ci_high=hi, se=se,
                p=p, direction=_direction_pcr(auc - 0.5), note="few events" if few else "")


def response_rows(score: np.ndarray, pcr: np.ndarray, specs: list[ms.ModelSpec], *,
                  base: dict, settings: Settings, binary: bool = False) -> list[dict]:
    """AUC (with Mann–Whitney p) and one logistic row per model spec for one score.

    ``score`` and ``pcr`` span all samples of the cohort; each spec selects its own complete
    cases. The score enters as z within those samples (``binary``: as the 0/1 indicator).
    """
    base = {**base, "endpoint": "pcr"}
    rows = []
    first = specs[0].mask
    y0 = pcr[first].astype(int)
    if not binary and 1 <= y0.sum() < len(y0):
        rows.append(_auc_row(score[first], y0, base=base, settings=settings))
    what = "HER2-enriched" if binary else "higher score"
    effect_type = "OR HER2-E vs other" if binary else "OR per SD"
    for spec in specs:
        y = pcr[spec.mask].astype(int)
        n, events = len(y), int(y.sum())
        row_base = _spec_base(base, spec, events, n)
        smallest = min(events, n - events)
        x = score[spec.mask] if binary else _zscore(score[spec.mask])
        reason = spec.reason or (
            f"not fitted: {events} pCR / {n - events} non-pCR (minimum {settings.min_events} "
            "each)" if smallest < settings.min_events else "")
        if not reason and binary and len(np.unique(x)) < 2:
            reason = "not fitted: every analysed tumour has the same HER2-enriched call"
        if reason:
            rows.append(_row(**{**row_base, "note": "; ".join(filter(None, [reason, spec.note]))},
                             effect_type=effect_type))
            continue
        X = np.column_stack([np.ones(n), x, spec.columns])
        rows.append(_logistic_row(X, y, 1, base=row_base, settings=settings,
                                  effect_type=effect_type,
                                  direction=lambda b, w=what: _direction_pcr(b, w),
                                  binary_column=1 if binary else None))
    return rows


def _cox_row(score, time, event, spec, strata, *, base, settings) -> dict:
    n, events = int(spec.mask.sum()), int(event[spec.mask].sum())
    row_base = _spec_base(base, spec, events, n)
    reason = spec.reason or (f"not fitted: {events} event(s) (minimum {settings.min_events})"
                             if events < settings.min_events else "")
    if reason:
        return _row(**{**row_base, "note": "; ".join(filter(None, [reason, spec.note]))},
                    effect_type="HR per SD")
    m = spec.mask
    fit = stats.cox_fit(np.column_stack([_zscore(score[m]), spec.columns]), time[m], event[m],
                        strata=None if strata is None else strata[m])
    if not fit.converged:
        return _row(**{**row_base, "note": f"not fitted: {fit.note}"}, estimator="Cox PL",
                    effect_type="HR per SD")
    _, ph_p = stats.ph_test(fit, 0, transform=settings.ph_transform)
    return cox_fit_row(fit, ph_p, row_base=row_base, spec=spec, settings=settings)


def cox_fit_row(fit: stats.Fit, ph_p: float, *, row_base: dict, spec: ms.ModelSpec,
                settings: Settings) -> dict:
    """The HR-per-SD row of a converged Cox fit (coefficient 0) with its PH-test p."""
    b, lo, hi, p = fit.wald(0)
    flag = bool(np.isfinite(ph_p) and ph_p < settings.ph_alpha)
    note = "; ".join(filter(None, [spec.note, "proportional hazards doubtful (cox.zph "
                                   "score test)" if flag else ""]))
    return _row(**{**row_base, "note": note}, estimator="Cox PL (Breslow)", ci_method="Wald",
                effect_type="HR per SD", effect=np.exp(b), ci_low=np.exp(lo), ci_high=np.exp(hi),
                log_effect=b, se=float(fit.se[0]), p=p, direction=_direction_surv(b), ph_p=ph_p,
                ph_flag=flag)


def _logrank_row(score, time, event, *, base, endpoint, settings) -> dict:
    n, events = len(time), int(event.sum())
    base = {**base, "n": n, "events": events, "covariates": ""}
    if settings.survival_split == "tertile":
        group = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]), right=True)
        formula = f"log-rank (2 df): {endpoint}, score tertiles (pre-specified)"
    else:
        group = (score > np.median(score)).astype(int)
        formula = f"log-rank: {endpoint}, score above vs at/below the median (pre-specified)"
    base.update(model=f"logrank_{settings.survival_split}", formula=formula,
                effect_type="HR top vs bottom")
    if events < settings.min_events or len(np.unique(group)) < 2:
        return _row(**base, note=f"not fitted: {events} event(s) (minimum {settings.min_events})")
    _, p = stats.logrank_test_k(time, event, group)
    keep = (group == group.max()) | (group == group.min())
    top = (group == group.max())[keep].astype(float)[:, None]
    fit = stats.cox_fit(top, time[keep], event[keep])
    if not fit.converged:
        return _row(**base, estimator="log-rank", p=p, note=f"HR not estimable: {fit.note}")
    b, lo, hi, _ = fit.wald(0)
    return _row(**base, estimator="log-rank", ci_method="Wald (Cox, top vs bottom group)",
                effect=np.exp(b), ci_low=np.exp(lo), ci_high=np.exp(hi), log_effect=b,
                se=float(fit.se[0]), p=p, note="",
                direction="top group → worse survival" if b > 0 else "top group → better survival")


def survival_rows(score: np.ndarray, time: np.ndarray, event: np.ndarray,
                  specs: list[ms.ModelSpec], *, base: dict, endpoint: str, settings: Settings,
                  strata: np.ndarray | None) -> list[dict]:
    """Cox HR per SD (one row per model spec) and the pre-specified split log-rank test.

    Arrays span all samples of the cohort; each spec selects its own complete cases.
    """
    base = {**base, "endpoint": endpoint}
    rows = [_cox_row(score, time, event, spec, strata, base=base, settings=settings)
            for spec in specs]
    m = specs[0].mask
    rows.append(_logrank_row(score[m], time[m], event[m].astype(int), base=base,
                             endpoint=endpoint, settings=settings))
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


@dataclass
class _Context:
    """What every subgroup of one cohort shares."""

    obs: pd.DataFrame
    wide: dict
    design: CohortDesign
    settings: Settings
    cohort: str
    roles: dict
    clinical: list[ms.Covariate]
    clinical_reason: str


def _specs(ctx: _Context, key, outcome: str, mask: np.ndarray, arm_cols: list[ms.Covariate],
           suffix: str = "", binary: bool = False) -> list[ms.ModelSpec]:
    """Unadjusted, clinically adjusted and control-adjusted specs for one score in ``mask``."""
    s = ctx.settings
    family = "logistic" if outcome == "pcr" else "cox"
    lhs = "pcr" if outcome == "pcr" else f"Surv({outcome})"
    specs = [ms.build(family, lhs, mask, arm_cols, suffix=suffix)]
    if s.adjust_for:
        specs.append(ms.build(f"{family}_adj", lhs, mask, arm_cols + ctx.clinical,
                              reason=ctx.clinical_reason, suffix=suffix))
    controls = [c for c in s.adjust_controls if c != key[0]]
    if controls and not binary:
        cols = [ctx.wide.get((c, key[1])) for c in controls]
        missing = [c for c, col in zip(controls, cols, strict=True) if col is None]
        reason = ctx.clinical_reason or (
            f"control score(s) {', '.join(missing)} not scored" if missing else "")
        ctrl = [ms.Covariate(f"z({c})", col, standardise=True)
                for c, col in zip(controls, cols, strict=True) if col is not None]
        specs.append(ms.build(f"{family}_adj_controls", lhs, mask,
                              arm_cols + ctx.clinical + ctrl, reason=reason, suffix=suffix))
    for spec in specs:  # formulas name the HER2-E indicator rather than a z-scored score
        if binary:
            spec.formula = spec.formula.replace("z(score)", "her2_enriched", 1)
    return specs


def _survival_arrays(obs: pd.DataFrame, endpoint: str, settings: Settings):
    t = as_float_array(obs[f"{endpoint}_time"])
    e = as_float_array(obs[f"{endpoint}_event"])
    if settings.horizon_months:
        e = np.where(t > settings.horizon_months, 0, e)
        t = np.minimum(t, settings.horizon_months)
    strata, suffix = None, ""
    if settings.strata and all(s in obs for s in settings.strata):
        parts = [obs[s].astype(object) for s in settings.strata]
        known = np.all([p.notna().to_numpy() for p in parts], axis=0)
        joined = np.array(["|".join(map(str, v)) for v in zip(*parts, strict=True)])
        strata = np.where(known, joined, "")
        suffix = f" strata({', '.join(settings.strata)})"
    return t, e, strata, suffix


def _subgroup_rows(ctx: _Context, sub, endpoints: dict) -> tuple[list[dict], list[dict]]:
    obs, s = ctx.obs, ctx.settings
    mask = np.asarray(sub.mask, bool)
    arm_cols: list[ms.Covariate] = []
    arm_note = ""
    if sub.question == "within_trastuzumab" and ctx.design.design == "multi_arm_anti_her2" \
            and "arm" in obs:
        ref, arm_note = reference_arm(obs[mask], ctx.design)
        arm_cols = ms.arm_covariates(obs, mask, ref)
    pooled = sub.pooled and ctx.design.parent is None
    response, survival = [], []
    for key, s_all in ctx.wide.items():
        binary = is_her2e(key)
        era = era_of(sub.question, ctx.design)
        base = {"cohort": ctx.cohort, "design": ctx.design.design, "question": sub.question,
                "era": era, "stratum": stratum_label(sub.question, era),
                "subgroup": sub.label, "signature": key[0], "method": key[1],
                "role": "positive_control" if binary else ctx.roles.get(key[0], ""),
                "pooled": pooled}
        if endpoints.get("response") == "pcr" and "pcr" in obs:
            y = as_float_array(obs["pcr"])
            m = mask & np.isfinite(y) & np.isfinite(s_all)
            if m.sum() >= 2:
                specs = _specs(ctx, key, "pcr", m, arm_cols, binary=binary)
                rows = response_rows(s_all, y, specs, base=base, settings=s, binary=binary)
                response += _with_note(rows, arm_note, ctx.design.parent)
        for endpoint in ([] if binary else endpoints.get("survival", []) or []):
            t, e, strata, suffix = _survival_arrays(obs, endpoint, s)
            m = mask & np.isfinite(t) & np.isfinite(e) & np.isfinite(s_all)
            if strata is not None:
                m &= strata != ""
            if m.sum() >= 2:
                specs = _specs(ctx, key, endpoint, m, arm_cols, suffix=suffix)
                rows = survival_rows(s_all, t, np.nan_to_num(e).astype(int), specs, base=base,
                                     endpoint=endpoint, settings=s, strata=strata)
                survival += _with_note(rows, arm_note, ctx.design.parent)
    return response, survival


def _with_note(rows: list[dict], arm_note: str, parent: str | None) -> list[dict]:
    """Add the reference-arm note and the declared-subset note to every row."""
    extra = [arm_note] if arm_note else []
    if parent:
        extra.append(f"not pooled: a declared subset of {parent}, which this run pools")
    if extra:
        for row in rows:
            row["note"] = "; ".join(filter(None, [row["note"] if isinstance(row["note"], str)
                                                  else "", *extra]))
    return rows


def _wide_scores(obs: pd.DataFrame, scores: pd.DataFrame) -> dict:
    scored = scores.dropna(subset=["score"])
    wide = {key: grp.set_index("sample")["score"].reindex(obs.index).to_numpy(float)
            for key, grp in scored.groupby(["signature", "method"], sort=False)}
    # the HER2-enriched positive control: PAM50 called from expression in every cohort, and
    # the published call where the source has one (the reference where both exist)
    from .pam50 import harmonise_labels

    sources = [("pam50_called", "pam50_called", lambda c: c.astype(object)),
               ("pam50", "pam50_published", harmonise_labels)]
    for column, method, labels in sources:
        if column in obs and obs[column].notna().any():
            calls = labels(obs[column])
            if calls.notna().any():
                wide[(HER2E_SIGNATURE, method)] = np.where(
                    calls.isna(), np.nan, (calls == "Her2").astype(float))
    return wide


def associate_cohort(
    obs: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    cohort: str,
    design: str | CohortDesign,
    endpoints: dict,
    roles: dict[str, str],
    settings: Settings | None = None,
    primary: dict | None = None,
    min_events: int | None = None,
    fdr_family: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Response and survival tables for one cohort.

    Parameters
    ----------
    obs
        Cohort ``obs`` (standard vocabulary), indexed by sample. A ``pam50_called`` column
        adds the HER2-enriched positive-control rows.
    scores
        Long scores of this cohort.
    cohort
        Cohort id.
    design
        Design tag, or a :class:`~her2atlas.strata.CohortDesign` with the manifest's treatment
        era, arms and ``subset_of``.
    endpoints
        ``{"response": "pcr" or None, "survival": [endpoint, ...]}`` from the manifest.
    roles
        Signature → role (hypothesis/control), copied into rows.
    settings
        :class:`Settings`; ``min_events`` and ``fdr_family`` override it when given.
    primary
        The pre-specified primary hypothesis (signature, method, endpoint, model); matching
        pooled ``within_trastuzumab`` rows are marked ``analysis = primary``.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Response rows and survival rows (columns :data:`COLUMNS`).
    """
    from .interaction import interaction_rows_for_cohort

    settings = settings or Settings()
    if min_events is not None:
        settings.min_events = min_events
    if fdr_family is not None:
        settings.fdr_family = fdr_family
    design = design if isinstance(design, CohortDesign) else CohortDesign(design)
    clinical, reason = ms.status_covariates(obs, list(settings.adjust_for))
    ctx = _Context(obs, _wide_scores(obs, scores), design, settings, cohort, roles, clinical,
                   reason)
    response: list[dict] = []
    survival: list[dict] = []
    for sub in subgroups(obs, design):
        r, s = _subgroup_rows(ctx, sub, endpoints)
        response += r
        survival += s
    if endpoints.get("response") == "pcr" and "pcr" in obs:
        response += interaction_rows_for_cohort(ctx)
    return _finish(response, settings, primary), _finish(survival, settings, primary)


def _finish(rows: list[dict], settings: Settings, primary: dict | None) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=COLUMNS)
    keys = ("signature", "method", "endpoint", "model")
    table["analysis"] = [
        "primary" if primary and r["question"] == "within_trastuzumab" and r["pooled"] is True
        and all(r[c] == primary[c] for c in keys) else "exploratory"
        for _, r in table.iterrows()]
    table["note"] = table["note"].fillna("")
    table["covariates"] = table["covariates"].fillna("")
    return add_q(table, settings.fdr_family)[COLUMNS]
