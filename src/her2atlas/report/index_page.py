"""The index: primary result, evidence summary, warnings, cohorts, heatmaps, tables."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd
import yaml

from .. import __version__
from .data import ReportData
from .evidence import EvidenceRule
from .plots import interval_rules
from .signature_page import evidence_anchor
from .tables import Table, adjustment_table, meta_view, software_versions, to_table
from .text import methods_text, primary_summary


def evidence_view(evidence: pd.DataFrame, pages: set[str]) -> dict:
    """The evidence table for the template: column labels and one block per role group."""
    labels = dict(zip(evidence["column"], evidence["label"], strict=False))
    blocks = []
    for block, title in (("hypothesis", "Hypothesis signatures"),
                         ("control", "Controls (same rule, for comparison)")):
        rows = []
        for signature, cells in evidence[evidence["block"] == block].groupby(
                "signature", sort=False):
            link = f"signature_{signature}.html" if signature in pages else ""
            rows.append({"signature": signature, "href": link, "role": cells["role"].iloc[0],
                         "method": cells["method"].iloc[0],
                         "cells": [{"column": c["column"], "value": c["value"],
                                    "verdict": c["verdict"], "tone": c["tone"],
                                    "estimate": c["estimate"], "interval": c["interval"],
                                    "href": (f"{link}#{evidence_anchor(c['column'])}"
                                             if link else "tables/evidence.tsv")}
                                   for c in cells.to_dict("records")]})
        if rows:
            blocks.append({"title": title, "rows": rows})
    return {"columns": list(labels), "labels": labels, "blocks": blocks}


def cohort_table(rows: list[dict]) -> tuple[Table, pd.DataFrame]:
    """The cohort table (coverage cells with a bar) and its TSV form (coverage as text)."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        return to_table(frame), frame
    tsv = frame.assign(**{"coverage (hypothesis sets)": [
        c["text"] for c in frame["coverage (hypothesis sets)"]]})
    return to_table(frame), tsv


def warnings_frame(cohort_warnings: dict[str, list[str]]) -> pd.DataFrame:
    """Every cohort warning, one row each."""
    return pd.DataFrame([{"cohort": c, "warning": w} for c, ws in cohort_warnings.items()
                         for w in ws], columns=["cohort", "warning"])


def signature_table(data: ReportData, pages: list[str]) -> Table:
    """The catalogue with a link column to each signature page."""
    frame = data.catalogue_frame.drop(columns=["genes", "sha256"]).copy()
    frame["page"] = [f"signature_{n}.html" if n in pages else "" for n in frame["signature"]]
    return to_table(frame)


def index_context(data: ReportData, *, evidence: pd.DataFrame, rule: EvidenceRule,
                  cohort_rows: list[dict], warnings: pd.DataFrame, heatmaps: list[dict],
                  primary_forests: list[dict], checksums: pd.DataFrame, pages: list[str],
                  adjustment: pd.DataFrame) -> dict:
    """Everything the index template shows."""
    meta = data.meta
    rules = interval_rules(meta) if len(meta) else []
    table, _ = cohort_table(cohort_rows)
    return dict(
        primary=primary_summary(data.primary, data.meta_response, data.meta_survival,
                                data.per_cohort, data.endpoint_families),
        primary_signature=(data.primary or {}).get("signature", ""),
        primary_forests=primary_forests,
        evidence=evidence_view(evidence, set(pages)), evidence_rule=rule.text(),
        warnings=to_table(warnings), n_warnings=len(warnings),
        cohort_table=table, heatmaps=heatmaps,
        meta_response=to_table(meta_view(data.meta_response)),
        meta_survival=to_table(meta_view(data.meta_survival)),
        adjustment=to_table(adjustment), adjustment_method=data.method,
        signature_table=signature_table(data, pages), signature_pages=list(pages),
        methods_text=methods_text(data.config, data.settings, rules),
        interval_rule="; ".join(rules) or "nothing was pooled",
        software=to_table(software_versions()), checksums=to_table(checksums),
        config_yaml=yaml.safe_dump(data.config, sort_keys=False, allow_unicode=True),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__)


def catalogue_checksums(data: ReportData) -> list[dict]:
    """Checksum rows of the signature collections."""
    frame = data.catalogue_frame
    return [{"cohort": "(signatures)", "file": r["source"], "sha256": r["sha256"],
             "bytes": np.nan, "source": r["version"]}
            for r in frame.drop_duplicates("source").to_dict("records") if r["sha256"]]


def adjustment(data: ReportData) -> pd.DataFrame:
    """Unadjusted vs adjusted pooled effects of the summary method."""
    return adjustment_table(data.per_cohort, data.method,
                            endpoint_families=data.endpoint_families)
