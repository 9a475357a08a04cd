"""Cross-cohort figures of the report: effect heatmaps, forest plots, gene heatmaps.

Each function queues figures in a :class:`~her2atlas.report.figure_store.FigureStore` and
returns the dicts the page templates show (``src``, ``alt``, ``caption``). Captions name the
interval rule read from the pooled rows' ``interval`` column, never a fixed text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import figures
from .figure_store import FigureStore
from .tables import effect_ci, read_results, to_table

FOREST_MODELS = ("logistic", "cox", "interaction")
#: Design groups, left to right, in the heatmaps (anything else after them).
DESIGN_ORDER = ("randomised_trastuzumab", "multi_arm_anti_her2", "trastuzumab_treated",
                "not_trastuzumab_treated")
SHORT_QUESTION = {"within_trastuzumab": "treated", "prognosis": "prognosis",
                  "within_untreated_arm": "untreated arm"}
SHORT_ERA = {"trastuzumab": "T era", "pre_trastuzumab": "pre-T era", "mixed": "mixed era",
             "unrecorded": "era ?"}
ORANGE_MEANS = {"logistic": "orange = more pCR, purple = less pCR",
                "cox": "orange = higher hazard (worse), purple = lower hazard"}


def interval_rules(pooled: pd.DataFrame) -> list[str]:
    """The distinct interval rules named by pooled rows that have an estimate."""
    if pooled.empty or "interval" not in pooled:
        return []
    finite = pooled[np.isfinite(pooled["effect"].astype(float))]
    return sorted({str(v) for v in finite["interval"] if str(v) not in ("", "nan", "NA")})


def interval_label(pooled: pd.DataFrame) -> str:
    """Forest legend text: the interval rule(s) actually used and k."""
    rules = interval_rules(pooled)
    ks = sorted({int(k) for k in pooled["k"].dropna()}) if "k" in pooled else []
    k_text = f"k = {', '.join(map(str, ks))}" if ks else "k = NA"
    if not rules:
        return f"not pooled ({k_text})"
    return f"pooled 95% CI: {'; '.join(rules)}; {k_text}"


def _label(frame: pd.DataFrame, first, model: str, question: str | None) -> pd.Series:
    text = first + (":" + frame["endpoint"] if model != "logistic" else "")
    if question:
        return text
    return text + " (" + frame["question"].map(lambda q: SHORT_QUESTION.get(q, q)) + ", " \
        + frame["era"].map(lambda e: SHORT_ERA.get(e, e)) + ")"


def heatmap_table(per_cohort: pd.DataFrame, meta: pd.DataFrame, *, method: str, model: str,
                  signatures: list[str], question: str | None = None,
                  designs: dict[str, str] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Wide log-effect matrix (signature × cohort[:endpoint] + pooled), marks and long table.

    ``question`` keeps one evidence stratum; otherwise columns name their stratum. Cohort
    columns are grouped by design (``designs``: cohort → design, in :data:`DESIGN_ORDER`);
    pooled columns come last.
    """
    if per_cohort.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    keep = per_cohort["pooled"].astype(bool) & (per_cohort["method"] == method) & (
        per_cohort["model"] == model)
    rows = per_cohort[keep]
    pooled = meta[(meta["method"] == method) & (meta["model"] == model)
                  & np.isfinite(meta["effect"].astype(float))]
    if question:
        rows, pooled = rows[rows["question"] == question], pooled[pooled["question"] == question]
    if rows.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    rank = {d: i for i, d in enumerate(DESIGN_ORDER)}
    rows = rows.assign(column=_label(rows, rows["cohort"], model, question),
                       _g=rows["cohort"].map(lambda c: rank.get((designs or {}).get(c), 99)))
    rows = rows.sort_values("_g", kind="stable")
    pooled = pooled.assign(column=_label(pooled, "pooled", model, question), cohort="pooled")
    long = pd.concat([rows, pooled], ignore_index=True)[
        ["signature", "column", "cohort", "question", "endpoint", "model", "method",
         "log_effect", "effect", "p", "q"]]
    order = [s for s in signatures if s in set(long["signature"])]
    columns = list(dict.fromkeys(rows["column"])) + list(dict.fromkeys(pooled["column"]))
    values = long.pivot_table(index="signature", columns="column", values="log_effect",
                              aggfunc="first", dropna=False).reindex(index=order, columns=columns)
    marks = long.assign(mark=np.where(long["q"] < 0.05, "**", np.where(long["p"] < 0.05, "*", ""))
                        ).pivot_table(index="signature", columns="column", values="mark",
                                      aggfunc="first").reindex(index=values.index,
                                                               columns=values.columns)
    return values, marks.fillna(""), long


def heatmap_layout(columns: list[str], long: pd.DataFrame, designs: dict[str, str]
                   ) -> tuple[int, list[int]]:
    """(number of pooled columns, indices where a new design group starts)."""
    cohort_of = dict(zip(long["column"], long["cohort"], strict=False))
    pooled = sum(cohort_of.get(c) == "pooled" for c in columns)
    groups = [designs.get(cohort_of.get(c), "") for c in columns[:len(columns) - pooled]]
    breaks = [j for j in range(1, len(groups)) if groups[j] != groups[j - 1]]
    return pooled, breaks


def drop_empty_columns(values: pd.DataFrame, marks: pd.DataFrame
                       ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Leave out columns without a single estimate; return their names for a note."""
    empty = [c for c in values.columns if not np.isfinite(values[c].astype(float)).any()]
    return values.drop(columns=empty), marks.drop(columns=empty), empty


HEATMAP_SPECS = (("logistic", "log OR per SD (pCR, within trastuzumab-treated)",
                  "within_trastuzumab"), ("cox", "log HR per SD", None))


def effect_heatmaps(store: FigureStore, per_cohort: pd.DataFrame, meta: pd.DataFrame, *,
                    method: str, signatures: list[str], designs: dict[str, str]
                    ) -> tuple[list[dict], pd.DataFrame]:
    """Signature × cohort heatmaps (pCR ORs, survival HRs) and their long value table."""
    out, tables = [], []
    for model, label, question in HEATMAP_SPECS:
        values, marks, long = heatmap_table(per_cohort, meta, method=method, model=model,
                                            signatures=signatures, question=question,
                                            designs=designs)
        values, marks, empty = drop_empty_columns(values, marks)
        if values.empty or values.shape[1] == 0:
            continue
        tables.append(long)
        n_pooled, breaks = heatmap_layout(list(values.columns), long, designs)
        rules = interval_rules(meta[(meta["model"] == model) & (meta["method"] == method)])
        caption = (f"{label} ({method}); cohorts grouped by design (thin lines), pooled "
                   f"random-effects columns at the right ({'; '.join(rules) or 'none pooled'}); "
                   "** q < 0.05, * p < 0.05 (BH within the declared family).")
        if empty:
            caption += f" Left out (no estimate in any row): {', '.join(empty)}."
        out.append(store.add(f"heatmap_{model}", figures.effect_heatmap, values, marks,
                             title=f"{label}, {method}", label=label, n_pooled=n_pooled,
                             group_breaks=breaks, orange_means=ORANGE_MEANS[model],
                             alt=f"Heatmap of {label} by signature and cohort", caption=caption))
    long = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return out, long


def _forest_rows(per_cohort: pd.DataFrame, signature: str, pooled: pd.DataFrame,
                 question: str, era: str, model: str, family: str) -> pd.DataFrame:
    endpoints = {e for text in pooled["endpoints"].dropna().astype(str)
                 for e in text.split(",") if e} or {family}
    return per_cohort[(per_cohort["signature"] == signature)
                      & (per_cohort["question"] == question) & (per_cohort["era"] == era)
                      & (per_cohort["model"] == model) & per_cohort["endpoint"].isin(endpoints)
                      & per_cohort["pooled"].astype(bool)]


def forest_groups(signature: str, per_cohort: pd.DataFrame, meta: pd.DataFrame):
    """Per evidence stratum, endpoint family and model of a signature (forest models only):
    ``(family, model, pooled rows, per-cohort rows)``, skipping groups without cohort rows."""
    if per_cohort.empty or meta.empty:
        return
    meta = meta[(meta["signature"] == signature) & meta["model"].isin(FOREST_MODELS)]
    for (question, era, family, model), pooled in meta.groupby(
            ["question", "era", "endpoint", "model"], sort=False):
        rows = _forest_rows(per_cohort, signature, pooled, question, era, model, family)
        if not rows.empty:
            yield family, model, pooled, rows


def forest_figures(store: FigureStore, signature: str, per_cohort: pd.DataFrame,
                   meta: pd.DataFrame) -> list[dict]:
    """Forest plots of one signature: one per evidence stratum, endpoint family and model."""
    out = []
    for family, _model, pooled, rows in forest_groups(signature, per_cohort, meta):
        label = f"{pooled['effect_type'].iloc[0]} ({family})"
        stratum = pooled["stratum"].iloc[0]
        legend = interval_label(pooled)
        out.append(store.add(
            f"forest_{signature}_{len(out)}", figures.forest, rows, pooled,
            title=f"{signature}: {label}\n{stratum}", xlabel=label, interval_label=legend,
            alt=f"Forest plot of {signature} {label}, {stratum}",
            caption=f"{label}, {stratum}: per-cohort estimates (95% CI)" + (
                f" and, per scoring method, the pooled diamond ({legend})."
                if interval_rules(pooled) else f"; {legend}, so no pooled diamond.")))
    return out


GENE_VIEW_COLUMNS = ["leading_rank", "gene", "part", "model", "k", "effect (95% CI)", "p", "q",
                     "leading", "score_effect", "note"]


def gene_section(store: FigureStore, signature: str, paths: list[str]) -> dict | None:
    """Leading genes and a gene × cohort heatmap of the within-trastuzumab pCR stratum."""
    from .. import genes

    path = next((p for p in paths if Path(p).stem == signature), None)
    if path is None or not Path(path).is_file():
        return None
    table = read_results(path)
    if table.empty:
        return None
    lead = genes.leading_genes(table, top=20)
    lead = lead[lead["model"] == "logistic"] if "model" in lead else lead
    view = lead.assign(**{"effect (95% CI)": [effect_ci(r) for _, r in lead.iterrows()]})
    figs = []
    matrix = genes.gene_cohort_matrix(table, genes=list(lead["gene"].head(30)) or None).head(30)
    if not matrix.empty:
        pooled = table[(table["cohort"] == "pooled") & (table["question"] == "within_trastuzumab")]
        rules = interval_rules(pooled) if "effect" in pooled else []
        figs.append(store.add(
            f"genes_{signature}", figures.effect_heatmap, matrix,
            pd.DataFrame("", index=matrix.index, columns=matrix.columns),
            title=f"{signature}: per-gene log OR per SD (pCR)", label="log OR per SD",
            n_pooled=int("pooled" in matrix.columns), orange_means=ORANGE_MEANS["logistic"],
            alt=f"Gene by cohort heatmap of {signature} per-gene effects on pCR",
            caption="Per-gene log OR per SD for pCR within trastuzumab-treated patients "
                    "(unadjusted logistic, gene z-scored within the analysed samples), per "
                    f"cohort and pooled ({'; '.join(rules) or 'not pooled'}); rows: leading "
                    "genes first."))
    return {"table": to_table(view[[c for c in GENE_VIEW_COLUMNS if c in view]]) if len(view)
            else None, "figures": figs, "source": f"../genes/{signature}.tsv",
            "rule": f"{genes.__name__}.leading_genes: genes whose pooled effect points the way of "
                    "the signature's pooled score effect, ranked by |z|; 'leading' = pooled "
                    f"p < {genes.LEADING_P}"}
