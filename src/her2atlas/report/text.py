"""The report's sentences: the primary result, the methods paragraph, cohort QC notes.

Every sentence that states a result is built from the numbers of this run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..association import Settings
from .tables import effect_ci, fmt, ratio, results_view, to_table


def _primary_rows(primary: dict, per_cohort: pd.DataFrame,
                  endpoint_families: dict | None) -> pd.DataFrame:
    """Per-cohort pooled rows of the primary (endpoints mapped to their family)."""
    if per_cohort.empty:
        return per_cohort
    from ..meta import family_of

    families = family_of(endpoint_families)
    per_cohort = per_cohort.assign(endpoint=per_cohort["endpoint"].map(
        lambda e: families.get(e, e)))
    return per_cohort[(per_cohort["question"] == "within_trastuzumab")
                      & (per_cohort["signature"] == primary["signature"])
                      & (per_cohort["method"] == primary["method"])
                      & (per_cohort["endpoint"] == primary["endpoint"])
                      & (per_cohort["model"] == primary["model"])
                      & per_cohort["pooled"].astype(bool)]


def verdict_sentence(m: pd.Series, expect: str) -> str:
    """The pooled primary row in words, with the verdict computed from its numbers."""
    sentence = (
        f"pooled {m['effect_type']} = {ratio(m['effect'])} (95% CI "
        f"{ratio(m['ci_low'])}–{ratio(m['ci_high'])}, {m['interval']}), p = {fmt(m['p'])}, "
        f"q = {fmt(m['q'])}, over {int(m['k'])} cohorts ({m['cohorts']}; "
        f"n = {int(m['n_total'])}, {int(m['events_total'])} events); I² = {m['i2']:.0f}%, "
        f"τ² = {m['tau2_dl']:.3g}. Direction: {m['direction']}. ")
    consistent = (m["effect"] < 1) == (expect == "below_1")
    excludes = m["ci_high"] < 1 or m["ci_low"] > 1
    sentence += ("The estimate points in the hypothesised direction" if consistent
                 else "The estimate points against the hypothesised direction") + (
        " and its 95% CI excludes 1." if excludes else ", but its 95% CI includes 1.")
    if int(m["k"]) == 2:
        sentence += (" A random-effects interval from two cohorts is fragile; the two "
                     f"cohort estimates are {m['cohort_effects']}.")
    if str(m.get("hksj_q_below_1")) == "True":
        sentence += (f" HKSJ q = {m['hksj_q']:.3g} < 1: the cohorts agree more than their "
                     "standard errors imply, so the HKSJ standard error is below the "
                     "DerSimonian–Laird one; the DL normal interval is "
                     f"{ratio(m['dl_ci_low'])}–{ratio(m['dl_ci_high'])}.")
    return sentence


def primary_summary(primary: dict | None, meta_response: pd.DataFrame,
                    meta_survival: pd.DataFrame, per_cohort: pd.DataFrame,
                    endpoint_families: dict | None = None) -> dict:
    """The pre-specified primary result as one plain sentence with its numbers."""
    if not primary:
        return {"statement": "No primary hypothesis is declared in config.yaml (report.primary).",
                "sentence": "", "table": None}
    meta = meta_response if primary["endpoint"] == "pcr" else meta_survival
    match = meta[(meta["analysis"] == "primary")] if "analysis" in meta else meta.iloc[:0]
    rows = _primary_rows(primary, per_cohort, endpoint_families)
    what = (f"{primary['signature']} ({primary['method']}), endpoint {primary['endpoint']}, "
            f"model {primary['model']}, within trastuzumab-treated patients")
    if match.empty or not np.isfinite(match["effect"].iloc[0]):
        note = match["note"].iloc[0] if not match.empty else "no pooled row"
        sentence = f"{what}: not pooled ({note})."
        if len(rows):
            parts = [f"{r.cohort}: {effect_ci(r._asdict())}, p = {fmt(r.p)}"
                     for r in rows.itertuples()]
            sentence += " Per cohort: " + "; ".join(parts) + "."
    else:
        sentence = f"{what}: " + verdict_sentence(match.iloc[0], primary["expect"])
    return {"statement": primary.get("statement", what), "sentence": sentence,
            "table": to_table(results_view(rows)) if len(rows) else None}


def pam50_warning(qc: dict) -> list[str]:
    """A warning when PAM50 called from expression agrees poorly with the published calls."""
    called = qc.get("pam50_called")
    agreement = called.get("agreement") if isinstance(called, dict) else None
    if not isinstance(agreement, dict) or not agreement.get("kappa", 1) < 0.6:
        return []
    return [f"PAM50 called from expression agrees poorly with the published calls "
            f"({agreement['percent']:.1f}% agree, κ = {agreement['kappa']:.2f}, n = "
            f"{agreement['n']}; genes median-centred within this cohort): the HER2-enriched "
            "positive control is reported for both (methods pam50_published and pam50_called)"]


def qc_columns(qc: dict, score_qc_path: str | None) -> dict:
    """PAM50-from-expression calls (and agreement with published calls), GSVA gene filter."""
    called = qc.get("pam50_called") or {}
    called = called if isinstance(called, dict) else {}
    agreement = called.get("agreement")
    agreement = agreement if isinstance(agreement, dict) else {}
    if called.get("status") == "called":
        text = f"{called.get('counts', {}).get('Her2', 0)} HER2-E; genes " \
               f"{called.get('genes_used', 'NA')}/{called.get('genes_total', 'NA')}"
        if agreement:
            text += (f"; vs published: {agreement['percent']:.1f}% agree, "
                     f"κ = {agreement['kappa']:.2f} (n = {agreement['n']})")
    else:
        text = called.get("note", "not called")
    dropped = "NA"
    if score_qc_path and Path(score_qc_path).is_file():
        gsva = json.loads(Path(score_qc_path).read_text(encoding="utf-8")).get("gsva") or {}
        dropped = gsva.get("constant_genes_dropped", "NA")
    return {"PAM50 from expression": text, "GSVA constant genes dropped": dropped}


def methods_text(config: dict, settings: Settings, interval_rules: list[str]) -> str:
    """The methods paragraph, from the run's configuration."""
    scoring = config.get("scoring", {})
    auc = ("DeLong SE with a normal interval on the AUC scale (pROC's default)"
           if settings.auc_ci == "delong" else "DeLong SE with a logit-scale interval")
    families = config.get("meta", {}).get("endpoint_families", {})
    family_text = "; ".join(f"{k}: {', '.join(v)}" for k, v in families.items())
    return (
        "Expression was harmonised per cohort to gene-level log2 values (units conversion and "
        "duplicate collapse as listed per cohort); replicate samples of one patient are collapsed "
        "by the manifest's declared rule, and a sample or patient that appears in two configured "
        "cohorts stops the run. PAM50 subtypes were called from expression by nearest centroid "
        "(Spearman correlation to the PAM50 centroids after median-centring each gene within the "
        "cohort; Parker et al. 2009). Signatures were scored per cohort with "
        f"{', '.join(scoring.get('methods', []))} (zmean: mean of per-gene z-scores; combined z "
        "(Lee et al. 2008) only for up/down sets; singscore (Foroutan et al. 2018); single-sample "
        f"GSEA (Barbie et al. 2009, weight {scoring.get('ssgsea_alpha', 0.25)}, unnormalised ES); "
        "GSVA (Hänzelmann et al. 2013; genes constant across the cohort dropped as R GSVA does); "
        "mRNA stemness index (Malta et al. 2018)). Every analysis is within HER2-positive "
        "samples and answers one evidence stratum: within trastuzumab-treated patients (treated "
        "cohorts, trastuzumab arms of randomised trials, trastuzumab arms of multi-arm trials as "
        "one estimate with arm as covariate), the score × trastuzumab interaction in randomised "
        "trials, the no-trastuzumab arm, score × arm against the declared reference arm in "
        "multi-arm trials, and prognosis without recorded trastuzumab. pCR was related to "
        f"scores by ROC AUC ({auc}; Mann–Whitney p) and logistic regression per 1 SD within the "
        "analysed samples; Firth's penalised likelihood (profile-likelihood CI, penalised "
        "likelihood-ratio p, as logistf) replaces ML when events are few or the data separate. "
        "Survival: Cox regression per 1 SD (Breslow ties), the exact proportional-hazards score "
        "test of survival ≥ 3.0 (cox.zph), and a pre-specified split log-rank test. Adjusted "
        "models are fitted on their own complete cases; a covariate constant among them is "
        "dropped and named in the row's note, and each row lists the covariates that entered. "
        "The PAM50 HER2-enriched call is a positive control (HER2-E vs other, and its "
        "interaction with trastuzumab in randomised trials). Each signature is compared with "
        "1,000 random gene sets of the same size matched on mean expression (Venet et al. "
        "2011). Benjamini–Hochberg q values are computed within the families declared in the "
        "configuration. Per-cohort log effects were pooled only within one stratum, treatment "
        f"era and endpoint family ({family_text}): DerSimonian–Laird τ² with the "
        "Hartung–Knapp–Sidik–Jonkman interval and p (t, k − 1 df) at every k, chosen by the "
        "calibration benchmark; DerSimonian–Laird and Paule–Mandel normal intervals, I², a 95% "
        "prediction interval and leave-one-out ranges alongside; rows where the HKSJ scale "
        "factor q < 1 (HKSJ standard error below the DerSimonian–Laird one) are flagged, and "
        "two-cohort intervals are marked fragile. Scores are never pooled across cohorts. "
        "Interval rules in this run's pooled rows: "
        f"{'; '.join(interval_rules) or 'none (nothing was pooled)'}.")


