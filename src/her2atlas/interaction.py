"""Interaction rows: does a score's association with pCR differ between treatments?

* Randomised ± trastuzumab trials: ``pcr ~ z(score) * trastuzumab + covariates`` in both arms
  (question ``trastuzumab_interaction``, pooled across randomised trials); the interaction OR
  is the ratio of the score's per-SD ORs in the two arms under this joint model (z and the
  covariate effects shared between arms).
* Multi-arm anti-HER2 trials: ``pcr ~ z(score) * [arm X vs reference]`` for each arm against
  the manifest's declared reference arm (question ``arm_interaction``; not pooled, since arm
  contrasts differ between trials). Rows and directions name both arms.
* The PAM50 HER2-enriched call enters in place of the score as the positive control, and in
  randomised trials the trastuzumab effect within HER2-enriched tumours is reported beside the
  published NOAH estimate (Prat et al., Clin Cancer Res 2014: OR 5.1).
"""

from __future__ import annotations

import numpy as np

from . import model_specs as ms
from .association import (
    _Context,
    _logistic_row,
    _row,
    _zscore,
    fit_logistic,
    inference,
    is_her2e,
)
from .clinical import as_float_array
from .strata import reference_arm, stratum_label

PRAT_2014_NOTE = ("positive control: Prat et al. 2014 (NOAH) report OR 5.1 for trastuzumab vs "
                  "not within PAM50 HER2-enriched tumours")


def _base(ctx: _Context, key, question: str, subgroup: str, pooled: bool) -> dict:
    binary = is_her2e(key)
    return {"cohort": ctx.cohort, "design": ctx.design.design, "question": question,
            "era": ctx.design.era, "stratum": stratum_label(question, ctx.design.era),
            "subgroup": subgroup, "signature": key[0], "method": key[1], "endpoint": "pcr",
            "role": "positive_control" if binary else ctx.roles.get(key[0], ""),
            "pooled": pooled and ctx.design.parent is None}


def contrast_row(ctx: _Context, key, score: np.ndarray, y: np.ndarray, mask: np.ndarray,
                 contrast: np.ndarray, *, name: str, labels: tuple[str, str], base: dict,
                 note: str = "") -> dict:
    """One ``pcr ~ x * contrast + covariates`` row; ``labels`` = (contrast arm, reference arm)."""
    s = ctx.settings
    binary = is_her2e(key)
    spec = ms.build("interaction", "pcr", mask, ctx.clinical, reason=ctx.clinical_reason)
    x_name = "her2_enriched" if binary else "z(score)"
    formula = spec.formula.replace("z(score)", f"{x_name} * {name}", 1)
    m = spec.mask
    yy, t = y[m].astype(int), contrast[m]
    n, events = len(yy), int(yy.sum())
    row_base = {**base, "model": "interaction", "formula": formula, "n": n, "events": events,
                "covariates": ";".join([name, f"{x_name}:{name}", *spec.covariates]),
                "effect_type": "interaction OR",
                "note": "; ".join(filter(None, [spec.note, note]))}
    per_arm = [min(int(yy[t == a].sum()), int((1 - yy[t == a]).sum())) for a in (0, 1)]
    x = score[m] if binary else _zscore(score[m])
    reason = spec.reason or (
        f"not fitted: {events} pCR / {n - events} non-pCR; fewest in an arm {min(per_arm)}"
        if min(events, n - events) < s.min_events or min(per_arm) < 1 else "")
    if not reason and len(np.unique(x)) < 2:
        reason = "not fitted: the analysed tumours do not vary in " + x_name
    if reason:
        return _row(**{**row_base, "note": "; ".join(filter(None, [reason, row_base["note"]]))})
    X = np.column_stack([np.ones(n), x, t, x * t, spec.columns])
    what = "HER2-enriched" if binary else "score"
    arm, ref = labels

    def direction(b: float) -> str:
        side = "more positive" if b > 0 else "more negative"
        return f"association of {what} with pCR {side} with {arm} than with {ref}"

    return _logistic_row(X, yy, 3, base=row_base, settings=s, effect_type="interaction OR",
                         direction=direction, binary_column=1 if binary else None)


def _randomised(ctx: _Context, her2: np.ndarray, y: np.ndarray) -> list[dict]:
    treated = ctx.obs["trastuzumab"].astype("boolean")
    known = treated.notna().to_numpy()
    t = treated.fillna(False).to_numpy(bool).astype(float)
    rows = []
    for key, s_all in ctx.wide.items():
        m = her2 & known & np.isfinite(y) & np.isfinite(s_all)
        base = _base(ctx, key, "trastuzumab_interaction", "HER2+ both arms", True)
        rows.append(contrast_row(ctx, key, s_all, y, m, t, name="trastuzumab",
                                 labels=("trastuzumab", "no trastuzumab"), base=base))
    for key in [k for k in ctx.wide if is_her2e(k)]:
        rows.append(_her2e_treatment_effect(ctx, key, her2 & known & np.isfinite(y), y, t))
    return rows


def _her2e_treatment_effect(ctx: _Context, key, mask: np.ndarray, y: np.ndarray,
                            t: np.ndarray) -> dict:
    """OR for pCR with vs without trastuzumab within HER2-enriched tumours (published: 5.1)."""
    e = mask & (ctx.wide[key] == 1)
    which = "published" if key[1] == "pam50_published" else "called"
    base = {**_base(ctx, key, "treatment_effect", f"HER2+ PAM50 HER2-enriched ({which})", True),
            "model": "trastuzumab_effect", "formula": "pcr ~ trastuzumab (HER2-enriched only)",
            "covariates": "trastuzumab", "n": int(e.sum()), "events": int(y[e].sum()),
            "effect_type": "OR trastuzumab vs not", "note": PRAT_2014_NOTE}
    yy, tt = y[e].astype(int), t[e]
    events = min(int(yy.sum()), len(yy) - int(yy.sum()))
    arms = [int((tt == a).sum()) for a in (0, 1)]
    if events < ctx.settings.min_events or min(arms) < 2:
        return _row(**{**base, "note": f"not fitted: {int(yy.sum())} pCR / {len(yy) - int(yy.sum())}"
                                       f" non-pCR, {arms[1]} treated / {arms[0]} untreated "
                                       f"HER2-enriched (minimum {ctx.settings.min_events} events, "
                                       f"2 per arm); {PRAT_2014_NOTE}"})
    fit, estimator = fit_logistic(np.column_stack([np.ones(len(yy)), tt]), yy, ctx.settings,
                                  binary_column=1)
    if not fit.converged:
        return _row(**{**base, "note": f"not fitted: {fit.note}; {PRAT_2014_NOTE}"})
    b, lo, hi, p, how = inference(fit, 1)
    return _row(**base, estimator=estimator, ci_method=how, effect=np.exp(b), ci_low=np.exp(lo),
                ci_high=np.exp(hi), log_effect=b, se=float(fit.se[1]), p=p,
                direction="trastuzumab → more pCR" if b > 0 else "trastuzumab → less pCR")


def _multi_arm(ctx: _Context, her2: np.ndarray, y: np.ndarray) -> list[dict]:
    obs = ctx.obs
    arms = sorted(obs["arm"].dropna().astype(str).unique())
    if len(arms) < 2:
        return []
    ref, note = reference_arm(obs, ctx.design)
    arm_all = obs["arm"].astype(object).to_numpy()
    rows = []
    for key, s_all in ctx.wide.items():
        for other in (a for a in arms if a != ref):
            m = her2 & np.isfinite(y) & np.isfinite(s_all) & np.isin(arm_all, [ref, other])
            base = _base(ctx, key, "arm_interaction", f"HER2+ arm {other} vs {ref}", False)
            rows.append(contrast_row(ctx, key, s_all, y, m, (arm_all == other).astype(float),
                                     name=f"[arm {other} vs {ref}]", labels=(other, ref),
                                     base=base, note=note))
    return rows


def interaction_rows_for_cohort(ctx: _Context) -> list[dict]:
    """Score × trastuzumab (randomised) or score × arm (multi-arm) rows of one cohort."""
    obs = ctx.obs
    if "her2_status" not in obs:
        return []
    her2 = (obs["her2_status"].astype(object) == "positive").to_numpy()
    y = as_float_array(obs["pcr"])
    if ctx.design.design == "randomised_trastuzumab" and "trastuzumab" in obs:
        return _randomised(ctx, her2, y)
    if ctx.design.design == "multi_arm_anti_her2" and "arm" in obs:
        return _multi_arm(ctx, her2, y)
    return []
