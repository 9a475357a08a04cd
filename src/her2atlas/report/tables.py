"""Tables for the report pages: reading result TSVs, formatting numbers, the ``data_table`` model."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

SOFTWARE = ["her2atlas", "snakemake", "numpy", "pandas", "scipy", "anndata", "statsmodels",
            "lifelines", "gseapy", "matplotlib", "jinja2"]

TEXT_COLUMNS = ("note", "direction", "formula", "reason", "missing_genes", "cohorts", "subgroup",
                "question", "role", "stratum", "covariates", "ci_method", "era", "endpoints",
                "cohort_effects", "interval")


@dataclass
class Table:
    """Columns and pre-formatted cells for the ``data_table`` macro.

    ``dropped`` names the columns left out because every cell was empty (the page says so).
    """

    columns: list[str]
    rows: list[list[dict]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def fmt(value, digits: int = 3) -> str:
    """Format a number for display (NA for missing)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "NA"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _empty_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Columns whose every cell is missing, blank or the text NA (never when there are no rows)."""
    if frame.empty:
        return []
    return [c for c in columns if frame[c].map(
        lambda v: not isinstance(v, dict) and (_missing(v) or str(v).strip() in ("", "NA"))).all()]


LIST_COLUMNS = ("cohorts", "endpoints", "covariates", "missing_genes")


def to_table(frame: pd.DataFrame, columns: list[str] | None = None, *,
             drop_empty: bool = True) -> Table:
    """Turn a DataFrame into a :class:`Table` (numeric columns right-aligned and sortable).

    Columns that are empty in every row are dropped (named in ``Table.dropped``) unless
    ``drop_empty`` is False.
    """
    columns = columns or list(frame.columns)
    dropped = _empty_columns(frame, columns) if drop_empty else []
    columns = [c for c in columns if c not in dropped]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in columns]
    table = Table(columns, dropped=dropped)
    for record in frame[columns].itertuples(index=False):
        cells = []
        for name, value, is_num in zip(columns, record, numeric, strict=True):
            if isinstance(value, dict):  # a pre-built cell (e.g. with a bar)
                cells.append(value)
            elif is_num:
                cells.append({"text": "NA" if _missing(value) else fmt(value), "num": True,
                              "v": "" if _missing(value) else value})
            else:  # missing text (an empty note or reason) shows as blank
                text = "" if _missing(value) else fmt(value)
                if name in LIST_COLUMNS:  # comma lists wrap in a narrow column
                    text = text.replace(",", ", ")
                cells.append({"text": text, "num": False, "v": ""})
        table.rows.append(cells)
    return table


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a result TSV; text columns that happen to be all empty stay text, not float NaN."""
    frame = pd.read_csv(path, sep="\t")
    for column in TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "")
    return frame


def ratio(value: float) -> str:
    """An OR/HR for text: 3 significant digits, never a rounded-down 0.00."""
    return "NA" if not np.isfinite(value) else f"{value:.3g}"


def effect_ci(row) -> str:
    """'0.62 (0.41–0.93)' or NA."""
    if not np.isfinite(row["effect"]):
        return "NA"
    return f"{ratio(row['effect'])} ({ratio(row['ci_low'])}–{ratio(row['ci_high'])})"


RESULT_COLUMNS = ["analysis", "cohort", "stratum", "subgroup", "signature", "method", "endpoint",
                  "model", "estimator", "n", "events", "effect_type", "effect (95% CI)",
                  "ci_method", "p", "q", "direction", "ph_p", "note", "formula", "covariates"]


def results_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-cohort statistics rows with the effect and its CI in one column."""
    if frame.empty:
        return pd.DataFrame(columns=["cohort"])
    view = frame.copy()
    view["effect (95% CI)"] = [effect_ci(r) for _, r in view.iterrows()]
    return view[[c for c in RESULT_COLUMNS if c in view.columns]]


META_VIEW_COLUMNS = [
    "analysis", "stratum", "signature", "role", "method", "endpoint", "endpoints", "model", "k",
    "cohorts", "n_total", "events_total", "effect_type", "effect (95% CI)", "interval", "p", "q",
    "HKSJ q < 1", "hksj_q", "DL normal CI", "tau2_dl", "tau2_pm", "i2", "q_p",
    "prediction interval", "leave-one-out range", "cohort_effects", "direction", "note"]


def _span(frame: pd.DataFrame, low: str, high: str) -> list[str]:
    return [f"{r[low]:.2f}–{r[high]:.2f}" if np.isfinite(r[low]) else "NA"
            for _, r in frame.iterrows()]


def meta_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Pooled rows with intervals as text columns."""
    if frame.empty:
        return pd.DataFrame(columns=["signature"])
    view = frame.copy()
    view["effect (95% CI)"] = [effect_ci(r) for _, r in view.iterrows()]
    view["prediction interval"] = _span(view, "pi_low", "pi_high")
    view["leave-one-out range"] = _span(view, "loo_min", "loo_max")
    view["DL normal CI"] = _span(view, "dl_ci_low", "dl_ci_high")
    view["HKSJ q < 1"] = view["hksj_q_below_1"].map(lambda v: "yes" if str(v) == "True" else "")
    return view[[c for c in META_VIEW_COLUMNS if c in view.columns]]


ADJUSTMENT_MODELS = (("", "unadjusted"), ("_adj", "+ clinical"),
                     ("_adj_controls", "+ clinical + control scores"))


def _adjustment_row(grp: pd.DataFrame) -> dict:
    first = grp.iloc[0]
    row = {"stratum": first["stratum"], "signature": first["signature"], "role": first["role"],
           "endpoint": first["endpoint"], "cohorts": first["cohorts"], "k": first["k"],
           "note": first["note"] if isinstance(first["note"], str) else ""}
    for suffix, label in ADJUSTMENT_MODELS:
        hit = grp[grp["model"].str.fullmatch(r"(logistic|cox)" + suffix)]
        row[label] = effect_ci(hit.iloc[0]) if len(hit) else "NA"
    return row


def adjustment_table(per_cohort: pd.DataFrame, method: str, *,
                     endpoint_families: dict | None = None) -> pd.DataFrame:
    """Pooled effects side by side (unadjusted, + clinical, + control scores) over the same cohorts.

    Per stratum, endpoint family and signature, only cohorts with an estimate from all three
    models enter any column (:func:`her2atlas.meta.compare_models`), so the columns differ only
    by the adjustment.
    """
    from .. import meta

    columns = ["stratum", "signature", "role", "endpoint", "cohorts", "k",
               *[label for _, label in ADJUSTMENT_MODELS], "note"]
    if per_cohort.empty:
        return pd.DataFrame(columns=columns)
    rows = per_cohort[per_cohort["method"] == method]
    compared = [meta.compare_models([rows], *[base + s for s, _ in ADJUSTMENT_MODELS],
                                    endpoint_families=endpoint_families)
                for base in ("logistic", "cox")]
    compared = pd.concat([c for c in compared if not c.empty] or compared, ignore_index=True)
    out = [_adjustment_row(grp) for _, grp in
           compared.groupby(["question", "era", "endpoint", "signature"], sort=False)]
    return pd.DataFrame(out, columns=columns)


def software_versions() -> pd.DataFrame:
    """Installed versions of the packages the pipeline uses."""
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in SOFTWARE:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"package": name, "version": version})
    return pd.DataFrame(rows)
