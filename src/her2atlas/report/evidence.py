"""The evidence summary: one row per signature, one cell per line of evidence, a verdict each.

Pure functions on the pooled (``results/meta/*.tsv``), per-cohort (``results/stats``) and
random-signature null (``results/null``) tables. Every verdict comes from the numbers by the
rule in :class:`EvidenceRule` (configured under ``report.evidence``), and the rule is printed
under the table (:meth:`EvidenceRule.text`).

Columns
-------
``pcr``
    Pooled OR per SD for pCR within trastuzumab-treated patients (unadjusted logistic).
``interaction``
    Score × trastuzumab interaction (ratio of ORs) across randomised trials.
``survival:<question>:<era>:<family>``
    Pooled HR per SD (unadjusted Cox), one column per evidence stratum and endpoint family.
``null``
    Random-signature null: the percentile of the signature's pCR statistic among random sets.
``methods``
    Scoring methods whose pooled pCR OR lies on the hypothesised side of 1.
``adjusted``
    Pooled pCR OR adjusted for clinical covariates and the control scores (immune cytolytic
    activity, proliferation).

A pooled row that was not pooled (one cohort) falls back to that cohort's own estimate (k = 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..strata import stratum_label

SUPPORTS, AGAINST, INCONCLUSIVE = "supports", "against", "inconclusive"
HYPOTHESIS_ROLES = ("hypothesis", "demo")
EVIDENCE_COLUMNS = ["block", "signature", "role", "method", "column", "label", "value", "estimate",
                    "ci_low", "ci_high", "interval", "k", "n", "i2", "p", "verdict", "tone",
                    "cohorts", "source"]


@dataclass(frozen=True)
class EvidenceRule:
    """How a cell's numbers become a verdict (``report.evidence`` in the configuration).

    Parameters
    ----------
    expect_pcr
        Hypothesised side of 1 for the pCR odds ratios (``below_1``: a higher score goes with
        less pCR). Hazard ratios are expected on the other side (less pCR, worse survival).
    null_percentile
        A null cell supports (or goes against) only when the median percentile of the
        signature's statistic among random gene sets reaches this value.
    min_methods
        The methods cell needs at least this many methods with a pooled estimate.
    method
        The scoring method whose rows fill the effect cells.
    """

    expect_pcr: str = "below_1"
    null_percentile: float = 95.0
    min_methods: int = 2
    method: str = "zmean"

    @classmethod
    def from_config(cls, config: dict, method: str) -> EvidenceRule:
        """The rule from ``config['report']['evidence']`` (defaults for missing keys)."""
        section = (config.get("report") or {}).get("evidence") or {}
        return cls(expect_pcr=section.get("expect_pcr", cls.expect_pcr),
                   null_percentile=float(section.get("null_percentile", cls.null_percentile)),
                   min_methods=int(section.get("min_methods", cls.min_methods)), method=method)

    def expect(self, model: str) -> str:
        """Hypothesised side of 1 for a model's ratio (Cox HRs opposite to pCR ORs)."""
        if model.startswith("cox"):
            return "above_1" if self.expect_pcr == "below_1" else "below_1"
        return self.expect_pcr

    def text(self) -> str:
        """The rule in words, for under the table."""
        side = "below" if self.expect_pcr == "below_1" else "above"
        other = "above" if side == "below" else "below"
        return (
            f"Hypothesised direction: pCR odds ratios and interaction ratios {side} 1, hazard "
            f"ratios {other} 1 (per SD of the {self.method} score). An effect cell supports "
            "when its whole 95% interval (its rule shown on hover and in evidence.tsv) lies on "
            "the hypothesised side of 1, is against when it lies wholly on the other side, and "
            "is inconclusive when it includes 1 or there is no estimate. Null: supports when the median "
            f"percentile of the pCR statistic among random gene sets is ≥ {self.null_percentile:g} "
            "and most cohorts point the hypothesised way, against when it is that high and most "
            "point the other way, else inconclusive. Methods (strongly correlated, so direction "
            f"alone decides nothing): supports when at least {self.min_methods} methods' pooled "
            "pCR intervals lie wholly on the hypothesised side and none wholly on the other, "
            "against in the mirror case, else inconclusive.")


def _finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def interval_verdict(low: float, high: float, expect: str) -> str:
    """Supports / against / inconclusive from a ratio's interval and the hypothesised side."""
    if not (_finite(low) and _finite(high)):
        return INCONCLUSIVE
    below, above = high < 1, low > 1
    if expect == "below_1":
        return SUPPORTS if below else AGAINST if above else INCONCLUSIVE
    return SUPPORTS if above else AGAINST if below else INCONCLUSIVE


def tone(estimate: float, verdict: str, expect: str) -> str:
    """Cell colour class: direction (hypothesised or not) and strength (interval clear of 1)."""
    if verdict == SUPPORTS:
        return "sup-strong"
    if verdict == AGAINST:
        return "opp-strong"
    if not _finite(estimate):
        return "na"
    hypothesised = (estimate < 1) == (expect == "below_1")
    return "sup-weak" if hypothesised else "opp-weak"


def _select(frame: pd.DataFrame, **equal) -> pd.DataFrame:
    """Rows whose columns equal the given values (None: any value)."""
    if frame.empty:
        return frame
    keep = pd.Series(True, index=frame.index)
    for column, value in equal.items():
        if value is not None:
            keep &= frame[column] == value
    return frame[keep]


def _pick(meta: pd.DataFrame, per_cohort: pd.DataFrame, *, signature: str, method: str,
          question: str, model: str, era: str | None = None,
          endpoints: set[str] | None = None) -> tuple[dict | None, pd.DataFrame]:
    """The pooled row (or the single cohort's row when not pooled) and the rows behind it.

    ``era`` None takes any treatment era; ``endpoints`` (the family's members) None any endpoint.
    """
    m = _select(meta, signature=signature, method=method, question=question, model=model,
                era=era)
    if endpoints is not None and len(m):
        m = m[m["endpoints"].astype(str).map(lambda t: bool(set(t.split(",")) & endpoints))]
    rows = _select(per_cohort, signature=signature, method=method, question=question,
                   model=model, era=era)
    if len(rows):
        rows = rows[rows["pooled"].astype(bool)]
        if endpoints is not None:
            rows = rows[rows["endpoint"].isin(endpoints)]
    finite = m[m["effect"].map(_finite)] if len(m) else m
    if len(finite):
        return dict(finite.iloc[0]), rows
    usable = rows[rows["effect"].map(_finite)] if len(rows) else rows
    if len(usable) == 1:  # one cohort: its own estimate, said with k = 1
        one = dict(usable.iloc[0])
        one.update(k=1, n_total=one.get("n"), cohorts=one.get("cohort"), i2=np.nan,
                   interval=f"{one.get('ci_method') or 'cohort'} 95% CI of one cohort, not pooled",
                   source="stats")
        return one, rows
    return None, rows


def effect_cell(row: dict | None, *, column: str, label: str, expect: str, source: str) -> dict:
    """One effect cell: numbers, their text, the verdict and the colour class."""
    if row is None:
        return {"column": column, "label": label, "value": "no estimate", "estimate": np.nan,
                "ci_low": np.nan, "ci_high": np.nan, "interval": "", "k": 0, "n": np.nan,
                "i2": np.nan, "p": np.nan, "verdict": INCONCLUSIVE, "tone": "na", "cohorts": "",
                "source": source}
    verdict = interval_verdict(row["ci_low"], row["ci_high"], expect)
    k, n, i2 = int(row["k"]), row.get("n_total", np.nan), row.get("i2", np.nan)
    text = (f"{row['effect']:.3g} ({row['ci_low']:.3g}–{row['ci_high']:.3g}); k = {k}"
            + (f", n = {int(n)}" if _finite(n) else "")
            + (f", I² = {float(i2):.0f}%" if _finite(i2) else ""))
    return {"column": column, "label": label, "value": text, "estimate": float(row["effect"]),
            "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
            "interval": str(row.get("interval", "")), "k": k, "n": n, "i2": i2,
            "p": row.get("p", np.nan), "verdict": verdict,
            "tone": tone(row["effect"], verdict, expect), "cohorts": str(row.get("cohorts", "")),
            "source": source}


def null_rows(null: pd.DataFrame, signature: str, method: str) -> pd.DataFrame:
    """The null rows of one signature's pCR statistic for one method."""
    if null.empty:
        return null
    return null[(null["signature"] == signature) & (null["method"] == method)
                & (null["endpoint"] == "pcr")]


def methods_rows(meta: pd.DataFrame, signature: str) -> pd.DataFrame:
    """Pooled unadjusted pCR rows within trastuzumab-treated of every method (finite only)."""
    if meta.empty:
        return meta
    return meta[(meta["signature"] == signature) & (meta["question"] == "within_trastuzumab")
                & (meta["model"] == "logistic") & meta["effect"].map(_finite)]


def null_cell(null: pd.DataFrame, *, signature: str, rule: EvidenceRule) -> dict:
    """The random-signature null over the cohorts' within-trastuzumab pCR subgroups."""
    rows = null_rows(null, signature, rule.method)
    base = {"column": "null", "label": "random-signature null (pCR)", "ci_low": np.nan,
            "ci_high": np.nan, "interval": "", "n": np.nan, "i2": np.nan, "p": np.nan,
            "source": "null"}
    if rows.empty:
        return {**base, "value": "no null", "estimate": np.nan, "k": 0,
                "verdict": INCONCLUSIVE, "tone": "na", "cohorts": ""}
    percentile = float(np.median(100.0 * (1.0 - rows["p_empirical"].astype(float))))
    # AUC − 0.5 below 0: a higher score goes with less pCR (an OR below 1)
    hypothesised = int(((rows["observed"] < 0) == (rule.expect_pcr == "below_1")).sum())
    k = len(rows)
    verdict = INCONCLUSIVE
    if percentile >= rule.null_percentile and 2 * hypothesised > k:
        verdict = SUPPORTS
    elif percentile >= rule.null_percentile and 2 * (k - hypothesised) > k:
        verdict = AGAINST
    weak = "sup-weak" if 2 * hypothesised > k else "opp-weak"
    return {**base, "value": f"median percentile {percentile:.1f}; k = {k} ({hypothesised}/{k} "
                             "hypothesised direction)",
            "estimate": percentile, "k": k, "verdict": verdict,
            "tone": {SUPPORTS: "sup-strong", AGAINST: "opp-strong"}.get(verdict, weak),
            "cohorts": ",".join(rows["cohort"].astype(str))}


def methods_cell(meta: pd.DataFrame, *, signature: str, rule: EvidenceRule) -> dict:
    """How many scoring methods point the hypothesised way, and how many clearly so.

    Methods are strongly correlated, so direction alone decides nothing: the verdict counts
    methods whose pooled interval lies wholly on one side of 1.
    """
    rows = methods_rows(meta, signature)
    total = int(rows["method"].nunique()) if len(rows) else 0
    expect = rule.expect("logistic")
    agree = int((rows["effect"] < 1).eq(expect == "below_1").sum()) if total else 0
    verdicts = [interval_verdict(r.ci_low, r.ci_high, expect) for r in rows.itertuples()]
    clear_for, clear_against = verdicts.count(SUPPORTS), verdicts.count(AGAINST)
    verdict = INCONCLUSIVE
    if clear_for >= rule.min_methods and not clear_against:
        verdict = SUPPORTS
    elif clear_against >= rule.min_methods and not clear_for:
        verdict = AGAINST
    shade = "na" if not total else "sup-weak" if 2 * agree > total else "opp-weak"
    value = (f"{agree}/{total} point the hypothesised way, {clear_for} clear of 1"
             + (f", {clear_against} clear the other way" if clear_against else "")
             + (f" ({', '.join(rows['method'])})" if total else "")) if total else "no method"
    return {"column": "methods", "label": "methods agreeing (pCR)", "value": value,
            "estimate": float(agree), "ci_low": np.nan, "ci_high": np.nan, "interval": "",
            "k": total, "n": np.nan, "i2": np.nan, "p": np.nan, "verdict": verdict,
            "tone": {SUPPORTS: "sup-strong", AGAINST: "opp-strong"}.get(verdict, shade),
            "cohorts": "", "source": "meta"}


def survival_strata(meta: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(question, era, family, endpoints) of every unadjusted Cox stratum, in table order."""
    if meta.empty:
        return []
    cox = meta[meta["model"] == "cox"]
    out = []
    for (question, era, family), rows in cox.groupby(["question", "era", "endpoint"],
                                                     sort=False):
        members = {e for text in rows["endpoints"].astype(str) for e in text.split(",") if e}
        out.append((question, era, family, ",".join(sorted(members or {family}))))
    return out


def signature_cells(signature: str, meta: pd.DataFrame, per_cohort: pd.DataFrame,
                    null: pd.DataFrame, rule: EvidenceRule) -> tuple[list[dict], dict]:
    """Every cell of one signature's row, and the per-cohort rows behind each effect cell."""
    cells, behind = [], {}
    specs = [("pcr", "pCR within trastuzumab-treated (OR)", "within_trastuzumab", "logistic",
              "trastuzumab", None),
             ("interaction", "score × trastuzumab, randomised (ratio of ORs)",
              "trastuzumab_interaction", "interaction", None, None)]
    for question, era, family, endpoints in survival_strata(meta):
        specs.append((f"survival:{question}:{era}:{family}",
                      f"{family} survival, {stratum_label(question, era)} (HR)", question, "cox",
                      era, set(endpoints.split(","))))
    specs.append(("adjusted", "pCR adjusted for clinical + immune + proliferation (OR)",
                  "within_trastuzumab", "logistic_adj_controls", "trastuzumab", None))
    for column, label, question, model, era, endpoints in specs:
        row, rows = _pick(meta, per_cohort, signature=signature, method=rule.method,
                          question=question, model=model, era=era, endpoints=endpoints)
        cells.append(effect_cell(row, column=column, label=label, expect=rule.expect(model),
                                 source=(row or {}).get("source", "meta")))
        behind[column] = rows
    cells.insert(len(cells) - 1, null_cell(null, signature=signature, rule=rule))
    cells.insert(len(cells) - 1, methods_cell(meta, signature=signature, rule=rule))
    behind["null"] = null_rows(null, signature, rule.method)
    behind["methods"] = methods_rows(meta, signature)
    return cells, behind


def signature_rule(meta: pd.DataFrame, signature: str, rule: EvidenceRule) -> EvidenceRule:
    """The rule with the signature's own method when it is not scored by ``rule.method``.

    Weight signatures (mRNAsi) have a method of their own; their cells use it.
    """
    methods = list(dict.fromkeys(meta.loc[meta["signature"] == signature, "method"])) \
        if len(meta) else []
    if not methods or rule.method in methods:
        return rule
    return replace(rule, method=methods[0])


def evidence_table(meta: pd.DataFrame, per_cohort: pd.DataFrame, null: pd.DataFrame,
                   roles: dict[str, str], rule: EvidenceRule, *,
                   first: str | None = None) -> tuple[pd.DataFrame, dict]:
    """The evidence summary in long form (one row per signature × column).

    Parameters
    ----------
    meta
        Pooled rows (response and survival tables concatenated).
    per_cohort
        Per-cohort statistics rows (for single-cohort fallbacks and the rows behind a cell).
    null
        Random-signature null rows of every cohort, restricted to the within-trastuzumab
        subgroups (:func:`within_trastuzumab_null`).
    roles
        Signature → catalogue role, in the order rows should appear.
    rule
        The verdict rule.
    first
        A signature to list first (the primary).

    Returns
    -------
    tuple
        :data:`EVIDENCE_COLUMNS` table (``block`` is ``hypothesis`` or ``control``) and
        ``{(signature, column): per-cohort rows behind the cell}``.
    """
    order = sorted(roles, key=lambda s: (roles[s] not in HYPOTHESIS_ROLES, s != first))
    out, behind = [], {}
    for signature in order:
        mine = signature_rule(meta, signature, rule)
        cells, rows = signature_cells(signature, meta, per_cohort, null, mine)
        block = "hypothesis" if roles[signature] in HYPOTHESIS_ROLES else "control"
        out += [{"block": block, "signature": signature, "role": roles[signature],
                 "method": mine.method, **cell} for cell in cells]
        behind.update({(signature, column): frame for column, frame in rows.items()})
    return pd.DataFrame(out, columns=EVIDENCE_COLUMNS), behind


def within_trastuzumab_null(null: pd.DataFrame, per_cohort: pd.DataFrame) -> pd.DataFrame:
    """Null rows of the subgroups that answer the within-trastuzumab question.

    The null table names its subgroup by label only; the statistics rows map (cohort,
    subgroup) to the question.
    """
    if null.empty or per_cohort.empty:
        return null.iloc[:0] if len(null.columns) else null
    keys = per_cohort.loc[per_cohort["question"] == "within_trastuzumab",
                          ["cohort", "subgroup"]].drop_duplicates()
    return null.merge(keys, on=["cohort", "subgroup"], how="inner")
