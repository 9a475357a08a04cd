"""Expression matrices: reading, gene symbol normalisation, units → log2, duplicate collapse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import Her2AtlasError, did_you_mean, one_of
from .tables import is_excel

#: Units a manifest may declare, and how each becomes log2 (recorded in provenance).
UNIT_RULES = {
    "log2": "kept as is (already log2)",
    "log2_fpkm": "kept as is (already log2 FPKM)",
    "counts": "log2(CPM + 1), CPM = count / library size × 1e6, library size = column sum of the file",
    "fpkm": "log2(FPKM + 1)",
    "tpm": "log2(TPM + 1)",
}


def normalise_symbols(symbols) -> pd.Index:
    """Normalise gene symbols: strip whitespace and upper-case (gene sets get the same treatment)."""
    return pd.Index([str(s).strip().upper() for s in symbols])


#: Cells read as missing values (the string path replaces exactly these).
NA_SPELLINGS = ("", "NA", "NaN", "nan")
#: Up to this many columns, a missing gene_column's error lists every column.
LIST_ALL_COLUMNS = 50


def read_matrix(path: str | Path, *, orientation: str, gene_column: str | None,
                drop_columns: list[str] | None = None, delimiter: str | None = None,
                decimal: str = ".", sheet: str | int | None = None) -> pd.DataFrame:
    """Read one expression file as a genes × samples float DataFrame.

    Delimited text is parsed straight to float64 (pandas C engine); only when that fails (a
    non-numeric cell) is the file read again as strings, to name the bad cells. ``.xlsx``
    is always read as strings.

    Parameters
    ----------
    path
        A delimited text file (optionally gzipped) or ``.xlsx``.
    orientation
        ``genes_by_samples`` (genes are rows) or ``samples_by_genes``.
    gene_column
        Column holding gene symbols (genes_by_samples) or sample ids (samples_by_genes);
        None means the first column.
    delimiter, decimal, sheet
        Reading options (:func:`her2atlas.tables.read_strings`; delimiter sniffed when None).

    Returns
    -------
    pandas.DataFrame
        Index = raw gene symbols, columns = sample ids, float64 values.
    """
    path = Path(path)
    options = {"delimiter": delimiter, "decimal": decimal, "sheet": sheet}
    _check_header(path, options)
    if not is_excel(path):
        fast = _read_numeric(path, orientation=orientation, gene_column=gene_column,
                             drop_columns=drop_columns, delimiter=delimiter, decimal=decimal)
        if fast is not None:
            return fast
    return _read_via_strings(path, orientation=orientation, gene_column=gene_column,
                             drop_columns=drop_columns, options=options)


def _check_header(path: Path, options: dict) -> None:
    """Refuse a repeated header name (pandas would silently rename it to 'name.1')."""
    from .tables import read_strings

    header = read_strings(path, header=False, nrows=1, **options).iloc[0].tolist()
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise Her2AtlasError(
                f"column {name!r} occurs twice in the header", file=str(path),
                field="expression columns",
                fix="remove the duplicated sample (or gene) column from the file")
        seen.add(name)


def _read_numeric(path: Path, *, orientation: str, gene_column: str | None,
                  drop_columns: list[str] | None, delimiter: str | None,
                  decimal: str) -> pd.DataFrame | None:
    """Parse a delimited file straight to float64; None when a cell is not a number.

    Gives the same index, columns, values and NaN cells as :func:`_read_via_strings`
    without one Python string per cell (a SCAN-B-sized file holds 100 million cells).
    """
    from .tables import sniff_delimiter

    sep = delimiter or sniff_delimiter(path)
    columns = list(pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, nrows=0).columns)
    dropped = set(drop_columns or [])
    kept = [c for c in columns if c not in dropped]
    key = gene_column or kept[0]
    if key not in kept:
        return None  # the string path raises the error listing the columns
    values = [c for c in kept if c != key]
    try:
        frame = pd.read_csv(
            path, sep=sep, usecols=kept if dropped else None, index_col=key, decimal=decimal,
            dtype={key: str, **dict.fromkeys(values, np.float64)}, keep_default_na=False,
            # the id column keeps 'NA' as text, as the string path does
            # default float parser: the same as pd.to_numeric of the string path, bit for bit
            na_values={c: list(NA_SPELLINGS) for c in values})
    except ValueError:  # a non-numeric cell: the string path names it
        return None
    if orientation == "samples_by_genes":
        frame = frame.T
    return _finish(frame)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index.name = None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_via_strings(path: Path, *, orientation: str, gene_column: str | None,
                      drop_columns: list[str] | None, options: dict) -> pd.DataFrame:
    """Read every cell as a string, then convert; names the file, gene and sample of bad cells."""
    from .tables import read_strings

    frame = read_strings(path, **options)
    frame = frame.drop(columns=[c for c in (drop_columns or []) if c in frame.columns])
    key = gene_column or frame.columns[0]
    if key not in frame.columns:
        raise Her2AtlasError(
            f"column {key!r} not found", file=str(path), field="expression.gene_column",
            fix="set gene_column to the column that holds gene symbols / sample ids; "
            + _columns_hint(key, frame.columns, path))
    frame = frame.set_index(key)
    if orientation == "samples_by_genes":
        frame = frame.T
    values = frame.replace(dict.fromkeys(NA_SPELLINGS, np.nan))
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & values.notna()
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise Her2AtlasError(
            f"non-numeric expression value {values.iat[row, col]!r} "
            f"(gene {values.index[row]!r}, sample {values.columns[col]!r}); "
            f"{int(bad.to_numpy().sum())} such cell(s)",
            file=str(path),
            field="expression",
            fix="remove annotation columns or rows, or declare the right orientation/gene_column",
        )
    return _finish(numeric)


def _columns_hint(key: str, columns, path: Path) -> str:
    """Nearest columns, then every column; with thousands (gene or sample ids) the first ten."""
    columns = [str(c) for c in columns]
    if len(columns) <= LIST_ALL_COLUMNS:
        return f"{did_you_mean(key, columns)}columns are: {one_of(columns)}"
    where = ("the first row of the sheet" if is_excel(path)
             else f"its header line: zcat -f '{path}' | head -1 | tr '\\t,;' '\\n\\n\\n'")
    return (f"{did_you_mean(key, columns)}the file has {len(columns)} columns, the first "
            f"{LIST_ALL_COLUMNS // 5}: {one_of(columns[:LIST_ALL_COLUMNS // 5])}; all of them "
            f"are in {where}")


def collapse_duplicates(frame: pd.DataFrame, rule: str, *,
                        companion: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Collapse rows with the same gene symbol.

    Parameters
    ----------
    frame
        Genes × samples.
    rule
        ``highest_mean`` (keep the row with the highest mean), ``mean`` (average the rows) or
        ``first``.

    companion
        A second matrix with the same rows (e.g. raw counts) collapsed the same way; it is
        returned as ``frame.attrs["companion"]``.

    Returns
    -------
    (pandas.DataFrame, int)
        The collapsed matrix and the number of rows removed.
    """
    if frame.index.is_unique:
        if companion is not None:
            frame.attrs["companion"] = companion
        return frame, 0
    before = len(frame)
    if rule == "highest_mean":
        order = frame.mean(axis=1).to_numpy()
        # stable: among equal means, keep the first row
        idx = pd.DataFrame({"g": frame.index, "m": order, "i": np.arange(before)})
        keep = idx.sort_values(["g", "m", "i"], ascending=[True, False, True]).drop_duplicates("g")
        rows = np.sort(keep["i"].to_numpy())
        out = frame.iloc[rows]
        other = companion.iloc[rows] if companion is not None else None
    elif rule == "mean":
        out = frame.groupby(level=0, sort=False).mean()
        other = companion.groupby(level=0, sort=False).mean() if companion is not None else None
    elif rule == "first":
        keep_rows = ~frame.index.duplicated(keep="first")
        out = frame[keep_rows]
        other = companion[keep_rows] if companion is not None else None
    else:
        raise Her2AtlasError(f"unknown duplicate rule {rule!r}",
                             fix="use highest_mean, mean or first")
    if other is not None:
        out.attrs["companion"] = other
    return out, before - len(out)


def to_log2(frame: pd.DataFrame, units: str, *, file: str = "") -> pd.DataFrame:
    """Convert a genes × samples matrix in ``units`` to log2 scale (see :data:`UNIT_RULES`).

    Raises
    ------
    Her2AtlasError
        For negative values where units cannot be negative, or log-declared data that look
        unlogged (a value above 100).
    """
    if units not in UNIT_RULES:
        raise Her2AtlasError(f"unknown units {units!r}", file=file, field="expression.units",
                             fix=f"use one of: {', '.join(UNIT_RULES)}")
    values = frame.to_numpy(dtype=float)
    if units in ("counts", "fpkm", "tpm"):
        if np.nanmin(values) < 0:
            raise Her2AtlasError(
                f"negative values in data declared as {units}", file=file,
                field="expression.units",
                fix="declare the units the file really holds (e.g. log2)",
            )
        if units == "counts":
            library = np.nansum(values, axis=0)
            if (library <= 0).any():
                bad = frame.columns[library <= 0][0]
                raise Her2AtlasError(f"sample {bad!r} has a library size of 0", file=file,
                                     fix="remove empty samples")
            # in place on one new array: no full-size temporaries (values may be a view of
            # ``frame``, which the caller keeps as the raw counts)
            values = values / library
            values *= 1e6
            values += 1.0
        else:
            values = values + 1.0
        np.log2(values, out=values)
    elif np.nanmax(values) > 100:
        raise Her2AtlasError(
            f"data declared as {units} have values up to {np.nanmax(values):.0f}: they look unlogged",
            file=file,
            field="expression.units",
            fix="declare the units as counts, fpkm or tpm so they are log2-transformed",
        )
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


def correct_probe_sums(
    frame: pd.DataFrame,
    counts: list[pd.Series],
    *,
    max_single_probe: float,
) -> tuple[pd.DataFrame, dict]:
    """Turn gene values that are sums of log2 probe values back into per-probe means.

    Parameters
    ----------
    frame
        Genes × samples, each value the sum of the log2 values of the gene's probes.
    counts
        Probe counts per normalised symbol, in order of preference (first source that knows a
        gene wins).
    max_single_probe
        Highest plausible log2 value of one probe. Genes with no known probe count whose values
        exceed it (so they are sums of an unknown number of probes) are dropped.

    Returns
    -------
    (pandas.DataFrame, dict)
        The corrected matrix and a summary for the provenance.
    """
    n = pd.Series(np.nan, index=frame.index)
    matched: list[int] = []
    for source in counts:
        source = source.copy()
        source.index = normalise_symbols(source.index)
        source = source.groupby(level=0).max()
        fill = n.isna() & frame.index.isin(source.index)
        n[fill] = source.reindex(frame.index[fill]).to_numpy()
        matched.append(int(fill.sum()))
    unknown = n.isna()
    corrected = frame.div(n.fillna(1.0), axis=0)
    too_high = corrected.max(axis=1) > max_single_probe
    out = corrected[~too_high]
    summary = {
        "rule": "gene value / number of platform probes for the gene (values were sums of log2 probes)",
        "genes_matched_per_source": matched,
        "genes_without_probe_count_kept_as_single_probe": int((unknown & ~too_high).sum()),
        "genes_dropped_uncorrectable": int(too_high.sum()),
        "max_single_probe_log2": max_single_probe,
    }
    return out, summary
