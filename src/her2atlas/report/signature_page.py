"""One page per signature: method × cohort grids, forest plots, genes, the rows behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import ReportData
from .figure_store import FigureStore
from .plots import forest_figures, forest_groups, gene_section
from .tables import Table, effect_ci, fmt, meta_view, results_view, to_table


def _grid_cell(row: pd.Series | None) -> dict:
    if row is None or not np.isfinite(float(row["effect"])):
        return {"text": "NA", "num": True, "v": "", "title": "no estimate"}
    star = "*" if float(row["p"]) < 0.05 else ""
    return {"text": f"{float(row['effect']):.2f}{star}", "num": True, "v": float(row["effect"]),
            "title": f"{effect_ci(row)}, p = {fmt(row['p'])}"}


def method_grid(rows: pd.DataFrame, pooled: pd.DataFrame, cohorts: list[str]) -> Table:
    """Method × cohort grid of one stratum (effect, * p < 0.05; CI on hover), pooled last."""
    present = [c for c in cohorts if c in set(rows["cohort"])]
    methods = list(dict.fromkeys(list(rows["method"]) + list(pooled["method"])))
    table = Table(["method", *present, "pooled"])
    for method in methods:
        cells = [{"text": method, "num": False, "v": ""}]
        mine = rows[rows["method"] == method]
        for cohort in present:
            hit = mine[mine["cohort"] == cohort]
            cells.append(_grid_cell(hit.iloc[0] if len(hit) else None))
        hit = pooled[pooled["method"] == method]
        cells.append(_grid_cell(hit.iloc[0] if len(hit) else None))
        table.rows.append(cells)
    return table


def grids(signature: str, per_cohort: pd.DataFrame, meta: pd.DataFrame,
          cohorts: list[str]) -> list[dict]:
    """One grid per stratum, endpoint family and model (as the forest plots)."""
    out = []
    for family, model, pooled, rows in forest_groups(signature, per_cohort, meta):
        out.append({"title": f"{pooled['effect_type'].iloc[0]} ({family}), "
                             f"{pooled['stratum'].iloc[0]}, {model}",
                    "table": method_grid(rows, pooled, cohorts)})
    return out


EVIDENCE_TITLES = {"pcr": "pCR within trastuzumab-treated", "interaction":
                   "score × trastuzumab interaction", "null": "random-signature null",
                   "methods": "methods agreeing", "adjusted": "adjusted for controls"}


def evidence_sections(signature: str, evidence: pd.DataFrame, behind: dict) -> list[dict]:
    """The evidence cells of this signature, each with the rows behind it (anchored)."""
    out = []
    for cell in evidence[evidence["signature"] == signature].to_dict("records"):
        rows = behind.get((signature, cell["column"]), pd.DataFrame())
        view = rows if cell["column"] == "null" else (
            meta_view(rows) if cell["column"] == "methods" else results_view(rows))
        out.append({"anchor": evidence_anchor(cell["column"]), "title": cell["label"],
                    "value": cell["value"], "verdict": cell["verdict"],
                    "table": to_table(view) if len(view) else None})
    return out


def evidence_anchor(column: str) -> str:
    """The id of an evidence cell's section on the signature page."""
    return "ev-" + "".join(ch if ch.isalnum() else "-" for ch in column)


def _presence(sig, data: ReportData) -> pd.DataFrame:
    presence = pd.DataFrame({"gene": sig.genes})
    for cohort, cov in zip(data.cohorts, data.coverages, strict=True):
        row = cov[cov["signature"] == sig.name]
        missing = set(str(row["missing_genes"].iloc[0]).split(",")) if len(row) else set()
        presence[cohort] = ["–" if g in missing else "✓" for g in sig.genes]
    return presence


def build_signature(sig, data: ReportData, store: FigureStore, render, *,
                    evidence: pd.DataFrame, behind: dict, synthetic: str) -> list[dict]:
    """Render ``signature_<name>.html``; returns its forest plots (the index shows the primary's)."""
    per_cohort, meta = data.per_cohort, data.meta
    results = per_cohort[per_cohort["signature"] == sig.name] if len(per_cohort) else per_cohort
    conc = pd.concat([c[c["signature"] == sig.name] for c in data.concordances if len(c)]
                     or [pd.DataFrame()], ignore_index=True)
    forests = forest_figures(store, sig.name, per_cohort, meta)
    render("signature.html", f"signature_{sig.name}.html",
           page_title=f"Signature {sig.name}", synthetic=synthetic,
           sig={"name": sig.name, "description": sig.description, "role": sig.role,
                "source": sig.source, "size": len(sig.genes),
                "genes": to_table(_presence(sig, data)),
                "grids": grids(sig.name, per_cohort, meta, data.cohorts),
                "forests": forests,
                "evidence": evidence_sections(sig.name, evidence, behind),
                "results": to_table(results_view(results)),
                "pooled": to_table(meta_view(meta[meta["signature"] == sig.name])
                                   if len(meta) else pd.DataFrame()),
                "concordance": to_table(conc) if len(conc) else None,
                "gene_effects": gene_section(store, sig.name, data.inputs.get("genes", []))})
    return forests

