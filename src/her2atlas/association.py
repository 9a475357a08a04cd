"""Per-cohort association of signature scores with pCR and survival, aware of the cohort design.

Every row answers one question in one subgroup and says which (``question``):

* ``prognostic_within_trastuzumab`` — treated cohorts, or the trastuzumab arm of a randomised
  trial (these rows are pooled in the meta-analysis);
* ``within_no_trastuzumab_arm`` — the control arm of a randomised trial;
* ``predictive_interaction`` — randomised ± trastuzumab: ``pcr ~ z(score) * trastuzumab + ER``,
  the interaction OR says whether the score's association differs by treatment;
* ``arm_interaction`` — multi-arm anti-HER2 trials: score × arm;
* ``prognosis`` — cohorts without (or without record of) trastuzumab.

Scores are re-standardised within the analysed samples, so effects are per 1 SD there. Models
with few events are not fitted (the row says why); logistic models fall back to Firth's
penalised likelihood under separation or below ``firth_below_events`` (the ``estimator`` column
says so). Cox rows carry the Grambsch–Therneau proportional-hazards p and a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import stats
from .clinical import as_float_array

COLUMNS = [
    "analysis", "cohort", "design", "question", "subgroup", "signature", "role", "method",
    "endpoint", "model", "formula", "estimator", "n", "events", "effect_type", "effect",
    "ci_low", "ci_high", "log_effect", "se", "p", "q", "direction", "ph_p", "ph_flag", "pooled",
    "note",
]


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

    @classmethod
    def from_config(cls, section: dict | None) -> Settings:
        """Build from the config section; unknown keys are rejected by the schema first."""
        return cls(**{k: v for k, v in (section or {}).items() if k in cls.__dataclass_fields__})


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


def _clinical_covariates(obs: pd.DataFrame, mask: np.ndarray, names: list[str]
                         ) -> tuple[np.ndarray | None, list[str], str]:
    """Indicator columns for clinical covariates, or (None, [], reason) when unusable."""
    columns, labels = [], []
    for name in names:
        if name not in obs:
            return None, [], f"{name} not recorded"
        values = obs[name].astype(object).to_numpy()[mask]
        if pd.isna(values).any():
            return None, [], f"{name} missing for some samples"
        if name.endswith("_status"):
            indicator = (values == "positive").astype(float)
            if 0 < indicator.sum() < len(indicator):
                columns.append(indicator)
                labels.append(name.replace("_status", "_positive"))
        else:
            return None, [], f"covariate {name} is not a status field"
    if not columns:
        return np.empty((int(mask.sum()), 0)), [], ""
    return np.column_stack(columns), labels, ""


def _row(**kw) -> dict:
    row = dict.fromkeys(COLUMNS, np.nan)
    row.update(kw)
    return row


def _direction_pcr(b: float) -> str:
    return "higher score → more pCR" if b > 0 else "higher score → less pCR"


def _direction_surv(b: float) -> str:
    return "higher score → worse survival" if b > 0 else "higher score → better survival"


def _not_fitted(too_few: bool, why: str, formula: str, extra) -> str | None:
    """Why a model design is not fitted (too few events, or an unusable covariate), or None."""
    if too_few:
        return why
    if extra is None:  # the formula carries the reason after '| '
        return f"not fitted: {formula.split('| ')[-1]}"
    return None


def fit_logistic(X: np.ndarray, y: np.ndarray, settings: Settings) -> tuple[stats.Fit, str]:
    """ML logistic regression, or Firth when configured, events are few, or ML separates."""
    events = min(int(y.sum()), int(len(y) - y.sum()))
    if settings.firth == "always" or (settings.firth == "auto"
                                      and events < settings.firth_below_events):
        return stats.firth_logistic_fit(X, y), "Firth"
    fit = stats.logistic_fit(X, y)
    if not fit.converged and settings.firth == "auto":
        return stats.firth_logistic_fit(X, y), "Firth (ML failed: " + fit.note + ")"
    return fit, "ML"


def response_rows(score: np.ndarray, pcr: np.ndarray, designs: list[tuple[str, str, np.ndarray]],
                  *, base: dict, settings: Settings) -> list[dict]:
    """AUC (with Mann–Whitney p) and one logistic row per model design for one score.

    ``designs`` holds (model, formula, extra covariate columns); the score (z within the
    analysed samples) is always the first covariate after the intercept.
    """
    n = len(pcr)
    events = int(pcr.sum())
    non_events = n - events
    base = {**base, "endpoint": "pcr", "n": n, "events": events}
    rows = []
    few = min(events, non_events) < settings.min_events
    why = (f"not fitted: {events} pCR / {non_events} non-pCR "
           f"(minimum {settings.min_events} each)")
    if min(events, non_events) >= 1:
        from scipy.stats import mannwhitneyu  # imported here: slow to import, pCR only

        auc, se, lo, hi = stats.auc_delong(score, pcr)
        p = float(mannwhitneyu(score[pcr == 1], score[pcr == 0],
                               alternative="two-sided").pvalue)
        rows.append(_row(**base, model="auc", formula="AUC(score → pCR); p: Mann–Whitney",
                         estimator="DeLong", effect_type="AUC", effect=auc, ci_low=lo,
                         ci_high=hi, se=se, p=p,
                         direction=_direction_pcr(auc - 0.5), note="few events" if few else ""))
    z = _zscore(score)
    for model, formula, extra in designs:
        reason = _not_fitted(few, why, formula, extra)
        if reason:
            rows.append(_row(**base, model=model, formula=formula, effect_type="OR per SD",
                             note=reason))
            continue
        X = np.column_stack([np.ones(n), z, extra])
        fit, estimator = fit_logistic(X, pcr, settings)
        if not fit.converged:
            rows.append(_row(**base, model=model, formula=formula, estimator=estimator,
                             effect_type="OR per SD", note=f"not fitted: {fit.note}"))
            continue
        b, lo, hi, p = fit.wald(1)
        rows.append(_row(**base, model=model, formula=formula, estimator=estimator,
                         effect_type="OR per SD", effect=np.exp(b), ci_low=np.exp(lo),
                         ci_high=np.exp(hi), log_effect=b, se=float(fit.se[1]), p=p,
                         direction=_direction_pcr(b), note=""))
    return rows


def survival_rows(score: np.ndarray, time: np.ndarray, event: np.ndarray,
                  designs: list[tuple[str, str, np.ndarray]], *, base: dict, endpoint: str,
                  settings: Settings, strata: np.ndarray | None) -> list[dict]:
    """Cox HR per SD (one row per model design) and the pre-specified split log-rank test."""
    n = len(time)
    events = int(event.sum())
    base = {**base, "endpoint": endpoint, "n": n, "events": events}
    why = f"not fitted: {events} event(s) (minimum {settings.min_events})"
    z = _zscore(score)
    rows = []
    for model, formula, extra in designs:
        reason = _not_fitted(events < settings.min_events, why, formula, extra)
        if reason:
            rows.append(_row(**base, model=model, formula=formula, effect_type="HR per SD",
                             note=reason))
            continue
        fit = stats.cox_fit(np.column_stack([z, extra]), time, event, strata=strata)
        if not fit.converged:
            rows.append(_row(**base, model=model, formula=formula, estimator="Cox PL",
                             effect_type="HR per SD", note=f"not fitted: {fit.note}"))
            continue
        b, lo, hi, p = fit.wald(0)
        _, ph_p = stats.ph_test(fit, 0, transform=settings.ph_transform)
        flag = bool(np.isfinite(ph_p) and ph_p < settings.ph_alpha)
        rows.append(_row(**base, model=model, formula=formula, estimator="Cox PL (Breslow)",
                         effect_type="HR per SD", effect=np.exp(b), ci_low=np.exp(lo),
                         ci_high=np.exp(hi), log_effect=b, se=float(fit.se[0]), p=p,
                         direction=_direction_surv(b), ph_p=ph_p, ph_flag=flag,
                         note="proportional hazards doubtful (Schoenfeld test)" if flag else ""))
    split = settings.survival_split
    if split == "tertile":
        cuts = np.quantile(score, [1 / 3, 2 / 3])
        group = np.digitize(score, cuts, right=True)
        formula = f"log-rank (2 df): {endpoint}, score tertiles (pre-specified)"
    else:
        group = (score > np.median(score)).astype(int)
        formula = f"log-rank: {endpoint}, score above vs at/below the median (pre-specified)"
    model = f"logrank_{split}"
    if events < settings.min_events or len(np.unique(group)) < 2:
        rows.append(_row(**base, model=model, formula=formula, effect_type="HR top vs bottom",
                         note=why))
        return rows
    _, p = stats.logrank_test_k(time, event, group)
    top = group == group.max()
    bottom = group == group.min()
    keep = top | bottom
    fit = stats.cox_fit(top[keep].astype(float)[:, None], time[keep], event[keep])
    ok = fit.converged
    b, lo, hi, _ = fit.wald(0)
    rows.append(_row(**base, model=model, formula=formula, estimator="log-rank",
                     effect_type="HR top vs bottom", effect=np.exp(b) if ok else np.nan,
                     ci_low=np.exp(lo) if ok else np.nan, ci_high=np.exp(hi) if ok else np.nan,
                     log_effect=b if ok else np.nan, se=float(fit.se[0]) if ok else np.nan,
                     p=p, direction=("top group → worse survival" if b > 0
                                     else "top group → better survival") if ok else "",
                     note="" if ok else f"HR not estimable: {fit.note}"))
    return rows


def interaction_rows(score: np.ndarray, pcr: np.ndarray, treated: np.ndarray,
                     clinical: np.ndarray, *, base: dict, settings: Settings,
                     formula: str, label: str) -> list[dict]:
    """Logistic ``pcr ~ x * treated + covariates``: the interaction OR (ratio of per-arm ORs)."""
    n = len(pcr)
    events = int(pcr.sum())
    base = {**base, "endpoint": "pcr", "n": n, "events": events, "model": label,
            "formula": formula, "effect_type": "interaction OR"}
    smallest = min(events, n - events)
    per_arm = [min(int(pcr[treated == a].sum()), int((1 - pcr[treated == a]).sum()))
               for a in (0, 1)]
    if smallest < settings.min_events or min(per_arm) < 1:
        return [_row(**base, note=f"not fitted: {events} pCR / {n - events} non-pCR; "
                                  f"fewest in an arm {min(per_arm)}")]
    X = np.column_stack([np.ones(n), score, treated, score * treated, clinical])
    fit, estimator = fit_logistic(X, pcr, settings)
    if not fit.converged:
        return [_row(**base, estimator=estimator, note=f"not fitted: {fit.note}")]
    b, lo, hi, p = fit.wald(3)
    return [_row(**base, estimator=estimator, effect=np.exp(b), ci_low=np.exp(lo),
                 ci_high=np.exp(hi), log_effect=b, se=float(fit.se[3]), p=p,
                 direction=("association with pCR stronger (more positive) with trastuzumab"
                            if b > 0 else "association with pCR more negative with trastuzumab"),
                 note="")]


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
    settings: Settings | None = None,
    primary: dict | None = None,
    min_events: int | None = None,
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
    settings
        :class:`Settings`; ``min_events`` and ``fdr_family`` override it when given.
    primary
        The pre-specified primary hypothesis (signature, method, endpoint, model); matching
        rows are marked ``analysis = primary``.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Response rows and survival rows (columns :data:`COLUMNS`).
    """
    settings = settings or Settings()
    if min_events is not None:
        settings.min_events = min_events
    if fdr_family is not None:
        settings.fdr_family = fdr_family
    response: list[dict] = []
    survival: list[dict] = []
    scored = scores.dropna(subset=["score"])
    wide = {key: grp.set_index("sample")["score"].reindex(obs.index).to_numpy(float)
            for key, grp in scored.groupby(["signature", "method"], sort=False)}
    clin_names = list(settings.adjust_for)
    clin_text = " + ".join(n.replace("_status", "_positive") for n in clin_names)
    for label, question, mask, pooled in subgroups(obs, design):
        mask = mask.to_numpy(bool) if hasattr(mask, "to_numpy") else np.asarray(mask, bool)
        for (signature, method), s_all in wide.items():
            base = {"cohort": cohort, "design": design, "question": question, "subgroup": label,
                    "signature": signature, "role": roles.get(signature, ""), "method": method,
                    "pooled": pooled}
            controls = [c for c in settings.adjust_controls if c != signature]
            ctrl_cols = [wide.get((c, method)) for c in controls]
            ctrl_missing = [c for c, col in zip(controls, ctrl_cols, strict=True) if col is None]

            def model_designs(m, outcome, ctrl_cols=ctrl_cols, ctrl_missing=ctrl_missing,
                              controls=controls):
                clin, _, reason = _clinical_covariates(obs, m, clin_names)
                out = [("logistic" if outcome == "pcr" else "cox",
                        f"{outcome} ~ z(score)", np.empty((int(m.sum()), 0)))]
                if clin_names:
                    out.append((("logistic" if outcome == "pcr" else "cox") + "_adj",
                                f"{outcome} ~ z(score) + {clin_text}"
                                + (f" | {reason}" if clin is None else ""), clin))
                if controls:
                    formula = (f"{outcome} ~ z(score)"
                               + (f" + {clin_text}" if clin_names else "")
                               + "".join(f" + z({c})" for c in controls))
                    if clin is None or ctrl_missing:
                        why = reason or f"control score(s) {', '.join(ctrl_missing)} not scored"
                        out.append((("logistic" if outcome == "pcr" else "cox") + "_adj_controls",
                                    f"{formula} | {why}", None))
                    else:
                        cols = [_zscore(col[m]) for col in ctrl_cols]
                        out.append((("logistic" if outcome == "pcr" else "cox") + "_adj_controls",
                                    formula, np.column_stack([clin, *cols])))
                return out

            if endpoints.get("response") == "pcr" and "pcr" in obs:
                y = as_float_array(obs["pcr"])
                m = mask & np.isfinite(y) & np.isfinite(s_all)
                for col in ctrl_cols:
                    if col is not None:
                        m &= np.isfinite(col)
                if m.sum() >= 2:
                    response += response_rows(s_all[m], y[m].astype(int),
                                              model_designs(m, "pcr"), base=base,
                                              settings=settings)
            for endpoint in endpoints.get("survival", []) or []:
                t = as_float_array(obs[f"{endpoint}_time"])
                e = as_float_array(obs[f"{endpoint}_event"])
                if settings.horizon_months:
                    beyond = t > settings.horizon_months
                    e = np.where(beyond, 0, e)
                    t = np.minimum(t, settings.horizon_months)
                m = mask & np.isfinite(t) & np.isfinite(e) & np.isfinite(s_all)
                for col in ctrl_cols:
                    if col is not None:
                        m &= np.isfinite(col)
                strata = None
                if settings.strata:
                    parts = [obs[s].astype(str).to_numpy() if s in obs else None
                             for s in settings.strata]
                    if all(p is not None for p in parts):
                        strata = np.array(["|".join(v) for v in zip(*parts, strict=True)])
                        m &= ~np.isin(strata, [v for v in np.unique(strata) if "nan" in v
                                               or "<NA>" in v])
                if m.sum() >= 2:
                    survival += survival_rows(
                        s_all[m], t[m], e[m].astype(int),
                        [(mod, f.replace(endpoint, f"Surv({endpoint})", 1)
                          + (f" strata({', '.join(settings.strata)})" if strata is not None
                             else ""), x)
                         for mod, f, x in model_designs(m, endpoint)],
                        base=base, endpoint=endpoint, settings=settings,
                        strata=None if strata is None else strata[m])
        # predictive / arm interaction rows
    response += _interaction_tables(obs, wide, design=design, cohort=cohort, roles=roles,
                                    settings=settings, clin_names=clin_names,
                                    clin_text=clin_text, endpoints=endpoints)
    out = []
    for rows in (response, survival):
        table = pd.DataFrame(rows, columns=COLUMNS)
        table["analysis"] = [
            "primary" if primary and r["question"] != "predictive_interaction" and r["pooled"]
            is True and all(r[c] == primary[c] for c in ("signature", "method", "endpoint",
                                                          "model"))
            else "exploratory" for _, r in table.iterrows()]
        out.append(add_q(table, settings.fdr_family)[COLUMNS])
    return out[0], out[1]


def _interaction_tables(obs, wide, *, design, cohort, roles, settings, clin_names, clin_text,
                        endpoints) -> list[dict]:
    """Score × trastuzumab (randomised) or score × arm (multi-arm) rows, plus the positive control."""
    rows: list[dict] = []
    if endpoints.get("response") != "pcr" or "pcr" not in obs or "her2_status" not in obs:
        return rows
    her2 = (obs["her2_status"].astype(object) == "positive").to_numpy()
    y_all = as_float_array(obs["pcr"])
    if design == "randomised_trastuzumab" and "trastuzumab" in obs:
        treated_all = obs["trastuzumab"].astype("boolean")
        known = treated_all.notna().to_numpy()
        treated_all = treated_all.fillna(False).to_numpy(bool).astype(float)
        label = "HER2+ both arms"
        base_m = her2 & known & np.isfinite(y_all)
        clin_f = f" + {clin_text}" if clin_names else ""
        for (signature, method), s_all in wide.items():
            m = base_m & np.isfinite(s_all)
            clin, _, reason = _clinical_covariates(obs, m, clin_names)
            base = {"cohort": cohort, "design": design, "question": "predictive_interaction",
                    "subgroup": label, "signature": signature, "role": roles.get(signature, ""),
                    "method": method, "pooled": False}
            formula = f"pcr ~ z(score) * trastuzumab{clin_f}"
            if clin is None:
                rows.append(_row(**base, endpoint="pcr", model="interaction", formula=formula,
                                 effect_type="interaction OR", note=f"not fitted: {reason}"))
                continue
            rows += interaction_rows(_zscore(s_all[m]), y_all[m].astype(int), treated_all[m],
                                     clin, base=base, settings=settings, formula=formula,
                                     label="interaction")
        # positive control: PAM50 HER2-enriched in place of the score
        if "pam50" in obs:
            pam = obs["pam50"].astype(object).to_numpy()
            m = base_m & ~pd.isna(pam)
            clin, _, reason = _clinical_covariates(obs, m, clin_names)
            base = {"cohort": cohort, "design": design, "question": "predictive_interaction",
                    "subgroup": label, "signature": "PAM50_HER2E", "role": "positive_control",
                    "method": "pam50", "pooled": False}
            formula = f"pcr ~ her2_enriched * trastuzumab{clin_f}"
            if clin is None or m.sum() < 4:
                rows.append(_row(**base, endpoint="pcr", model="interaction", formula=formula,
                                 effect_type="interaction OR",
                                 note=f"not fitted: {reason or 'too few samples with PAM50'}"))
            else:
                her2e = (pam[m] == "Her2").astype(float)
                rows += interaction_rows(her2e, y_all[m].astype(int), treated_all[m], clin,
                                         base=base, settings=settings, formula=formula,
                                         label="interaction")
                # OR for pCR with vs without trastuzumab within HER2-E (published: 5.1)
                e = m & (pam == "Her2")
                if e.sum() >= 4:
                    fit, estimator = fit_logistic(
                        np.column_stack([np.ones(int(e.sum())), treated_all[e]]),
                        y_all[e].astype(int), settings)
                    b, lo, hi, p = fit.wald(1)
                    rows.append(_row(**{**base, "subgroup": "HER2+ PAM50 HER2-enriched"},
                                     endpoint="pcr", model="trastuzumab_effect",
                                     formula="pcr ~ trastuzumab (HER2-enriched only)",
                                     estimator=estimator, n=int(e.sum()),
                                     events=int(y_all[e].sum()),
                                     effect_type="OR trastuzumab vs not", effect=np.exp(b),
                                     ci_low=np.exp(lo), ci_high=np.exp(hi), log_effect=b,
                                     se=float(fit.se[1]), p=p, direction="",
                                     note="positive control (published OR 5.1 in NOAH)"))
    if design == "multi_arm_anti_her2" and "arm" in obs:
        arms = sorted(obs["arm"].dropna().astype(str).unique())
        if len(arms) >= 2:
            arm_all = obs["arm"].astype(object).to_numpy()
            for (signature, method), s_all in wide.items():
                for other in arms[1:]:
                    m = her2 & np.isfinite(y_all) & np.isfinite(s_all) & np.isin(
                        arm_all, [arms[0], other])
                    clin, _, reason = _clinical_covariates(obs, m, clin_names)
                    base = {"cohort": cohort, "design": design, "question": "arm_interaction",
                            "subgroup": f"HER2+ {other} vs {arms[0]}", "signature": signature,
                            "role": roles.get(signature, ""), "method": method, "pooled": False}
                    formula = f"pcr ~ z(score) * [arm {other} vs {arms[0]}]" + (
                        f" + {clin_text}" if clin_names else "")
                    if clin is None:
                        rows.append(_row(**base, endpoint="pcr", model="interaction",
                                         formula=formula, effect_type="interaction OR",
                                         note=f"not fitted: {reason}"))
                        continue
                    rows += interaction_rows(_zscore(s_all[m]), y_all[m].astype(int),
                                             (arm_all[m] == other).astype(float), clin,
                                             base=base, settings=settings, formula=formula,
                                             label="interaction")
    return rows
