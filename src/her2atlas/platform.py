"""Microarray platform annotation: probe → gene symbol tables from GEO SOFT or flat TSV files."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd

from .errors import Her2AtlasError

SYMBOL_COLUMNS = ("Gene Symbol", "Gene symbol", "GENE_SYMBOL", "Symbol", "SYMBOL", "gene_symbol",
                  "ILMN_Gene", "GeneSymbol")


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="latin-1", newline="")
    return open(path, encoding="latin-1", newline="")


def read_soft_platform(path: str | Path) -> pd.DataFrame:
    """Read the data table of a GEO SOFT / annot platform file.

    Parameters
    ----------
    path
        ``GPLxxx.txt(.gz)`` (full SOFT) or ``GPLxxx.annot.gz``; the table sits between
        ``!platform_table_begin`` and ``!platform_table_end``.

    Returns
    -------
    pandas.DataFrame
        The table as strings, one row per probe, ``ID`` unique.
    """
    path = Path(path)
    lines: list[str] = []
    inside = False
    with _open_text(path) as handle:
        for line in handle:
            low = line.strip().lower()
            if low == "!platform_table_begin":
                inside = True
                continue
            if low == "!platform_table_end":
                break
            if inside:
                lines.append(line)
    if not lines:
        raise Her2AtlasError(
            "no platform table found (missing '!platform_table_begin')",
            file=str(path),
            fix="give a GEO SOFT or .annot platform file",
        )
    table = pd.read_csv(io.StringIO("".join(lines)), sep="\t", dtype=str, keep_default_na=False)
    return table


def symbol_column(table: pd.DataFrame, *, file: str = "") -> str:
    """Return the name of the gene-symbol column of a platform table."""
    for name in SYMBOL_COLUMNS:
        if name in table.columns:
            return name
    raise Her2AtlasError(
        "no gene symbol column in platform table",
        file=file,
        fix=f"expected one of: {', '.join(SYMBOL_COLUMNS)}",
    )


def probe_to_symbol(table: pd.DataFrame, *, multi: str = "drop", file: str = "") -> pd.Series:
    """Map probe ID → one gene symbol.

    Parameters
    ----------
    table
        A platform table with an ``ID`` column.
    multi
        What to do with probes annotated to several genes (``A /// B``): ``drop`` them
        or keep the ``first`` symbol.
    file
        Named in errors.

    Returns
    -------
    pandas.Series
        Index probe ID, values symbol; unannotated probes are absent.
    """
    col = symbol_column(table, file=file)
    sym = table.set_index("ID")[col].astype(str).str.strip()
    sym = sym[(sym != "") & (sym != "---")]
    is_multi = sym.str.contains("///", regex=False)
    if multi == "drop":
        sym = sym[~is_multi]
    elif multi == "first":
        sym = sym.str.split("///").str[0].str.strip()
    else:
        raise Her2AtlasError(f"unknown multi-gene rule {multi!r}", fix="use 'drop' or 'first'")
    return sym


def probes_per_gene(table: pd.DataFrame, *, file: str = "") -> pd.Series:
    """Count probes per gene symbol, counting a multi-gene probe once for each of its genes."""
    col = symbol_column(table, file=file)
    sym = table[col].astype(str).str.strip()
    sym = sym[(sym != "") & (sym != "---")].str.split("///").explode().str.strip()
    return sym.groupby(sym).size()


def read_probe_map_tsv(path: str | Path, *, platform: str) -> pd.DataFrame:
    """Read a flat probe map (columns ``gpl``, ``probe_id``, ``symbol``) for one platform."""
    table = pd.read_csv(path, sep="\t", dtype=str)
    missing = {"gpl", "probe_id", "symbol"} - set(table.columns)
    if missing:
        raise Her2AtlasError(
            f"probe map lacks columns {sorted(missing)}", file=str(path),
            fix="expected columns gpl, probe_id, symbol",
        )
    table = table[table["gpl"] == platform]
    if table.empty:
        raise Her2AtlasError(
            f"probe map has no rows for platform {platform}", file=str(path), field="platform"
        )
    return table.rename(columns={"probe_id": "ID", "symbol": "Gene Symbol"})
