"""GEO series matrices and platform annotation: URLs, parsing, probe → gene, log detection.

GEO layout (mirrored below any data root with the same relative paths):

* ``geo/series/GSE50nnn/GSE50948/matrix/GSE50948_series_matrix.txt.gz`` (one file per platform;
  multi-platform series name them ``GSExxx-GPLyyy_series_matrix.txt.gz``);
* ``geo/platforms/GPL5nnn/GPL570/annot/GPL570.annot.gz``, falling back to the full SOFT table
  ``geo/platforms/GPL5nnn/GPL570/soft/GPL570_family.soft.gz``.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import Her2AtlasError

GEO_ROOT = "https://ftp.ncbi.nlm.nih.gov"
MISSING = {"", "NA", "N/A", "n/a", "na", "---", "--", "?", "null", "NULL"}
#: Characteristic keys that themselves contain ': ' (GSE42822 and similar); matched first.
KEYS_WITH_COLON = re.compile(r"^(?P<key>[^:]*\(\s*\d+\s*:[^)]*\))\s*:\s*(?P<value>.*)$")


def _stub(accession: str) -> str:
    """'GSE50948' → 'GSE50nnn'; 'GSE123' → 'GSEnnn' (GEO's folder rule)."""
    prefix, digits = re.match(r"^([A-Z]+)(\d+)$", accession).groups()
    return f"{prefix}{digits[:-3]}nnn" if len(digits) > 3 else f"{prefix}nnn"


def series_matrix_path(gse: str, file_name: str | None = None) -> str:
    """Relative path (under the GEO root or a mirror) of a series matrix file."""
    name = file_name or f"{gse}_series_matrix.txt.gz"
    return f"geo/series/{_stub(gse)}/{gse}/matrix/{name}"


def supplementary_path(gse: str, file_name: str) -> str:
    """Relative path of a series supplementary file."""
    return f"geo/series/{_stub(gse)}/{gse}/suppl/{file_name}"


def platform_annot_path(gpl: str) -> str:
    """Relative path of a platform's annotation file (``.annot.gz``)."""
    return f"geo/platforms/{_stub(gpl)}/{gpl}/annot/{gpl}.annot.gz"


def platform_soft_path(gpl: str) -> str:
    """Relative path of a platform's full SOFT file (fallback when there is no .annot)."""
    return f"geo/platforms/{_stub(gpl)}/{gpl}/soft/{gpl}_family.soft.gz"


def list_series_matrices(listing_html: str, gse: str) -> list[str]:
    """File names of every ``*_series_matrix.txt.gz`` in a GEO ``matrix/`` directory listing."""
    names = re.findall(r'href="([^"/]*_series_matrix\.txt\.gz)"', listing_html)
    names = sorted({n for n in names if n.startswith(gse)})
    if not names:
        raise Her2AtlasError(f"no series matrix listed for {gse}", field=gse,
                             fix="check the accession; GEO may not have processed data for it")
    return names


def split_characteristic(text: str) -> tuple[str, str | None]:
    """Split one ``!Sample_characteristics_ch1`` cell into (key, value).

    Keys that contain ``': '`` themselves, such as
    ``her2.status (1: positive, 0: negative): 1``, are recognised by their parenthesised code
    list; otherwise the split is on the first ``': '``. A cell without a colon is a value with
    the key ``characteristic``. Missing-value codes (``NA``, ``---``, empty …) give None.
    """
    text = text.strip()
    match = KEYS_WITH_COLON.match(text)
    if match:
        key, value = match.group("key"), match.group("value")
    elif ":" in text:
        key, value = text.split(":", 1)
    else:
        key, value = "characteristic", text
    value = value.strip()
    return key.strip(), None if value in MISSING else value


@dataclass
class SeriesMatrix:
    """A parsed series matrix: series fields, one row per sample, and the data table."""

    series: dict[str, list[str]] = field(default_factory=dict)
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    conflicts: list[str] = field(default_factory=list)
    characteristic_keys: list[str] = field(default_factory=list)


def _open(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def parse_series_matrix(path: str | Path, *, table: bool = True) -> SeriesMatrix:
    """Parse a GEO series matrix file.

    ``!Series_*`` lines become ``series`` (lists of values); ``!Sample_*`` lines become sample
    columns, and every ``!Sample_characteristics_ch1`` row is split into key/value columns (a
    key may sit in different rows for different samples; the same key twice for a sample keeps
    the first value and records a conflict). Cells are tab-separated and quoted, so quoted tabs
    stay inside their cell. The data table (between ``!series_matrix_table_begin`` and
    ``…_end``) becomes a probe × sample float matrix; ``table=False`` stops before it (the
    sample table only, for cheap checks).
    """
    path = Path(path)
    result = SeriesMatrix()
    sample_fields: dict[str, list[str]] = {}
    characteristics: list[list[str]] = []
    table_lines: list[str] = []
    in_table = False
    with _open(path) as handle:
        for line in handle:
            if in_table:
                if line.startswith("!series_matrix_table_end"):
                    in_table = False
                    continue
                table_lines.append(line)
                continue
            if line.startswith("!series_matrix_table_begin"):
                if not table:
                    break
                in_table = True
                continue
            if not line.startswith("!"):
                continue
            cells = next(csv.reader([line.rstrip("\r\n")], delimiter="\t", quotechar='"'))
            name, values = cells[0], cells[1:]
            if name.startswith("!Series_"):
                result.series.setdefault(name[len("!Series_"):], []).extend(values)
            elif name == "!Sample_characteristics_ch1":
                characteristics.append(values)
            elif name.startswith("!Sample_"):
                key = name[len("!Sample_"):]
                if key in sample_fields:  # repeated field (e.g. several data_processing rows)
                    sample_fields[key] = [f"{a}; {b}" if b else a
                                          for a, b in zip(sample_fields[key], values, strict=False)]
                else:
                    sample_fields[key] = values
    if "geo_accession" not in sample_fields:
        raise Her2AtlasError("no !Sample_geo_accession line: not a series matrix",
                             file=str(path), fix="give a GEO *_series_matrix.txt(.gz) file")
    accessions = sample_fields["geo_accession"]
    samples = pd.DataFrame({k: v for k, v in sample_fields.items() if len(v) == len(accessions)},
                           index=pd.Index(accessions, name=None))
    parsed: dict[str, dict[str, str | None]] = {}
    for row in characteristics:
        for sample, cell in zip(accessions, row, strict=False):
            if not cell.strip():
                continue
            key, value = split_characteristic(cell)
            column = parsed.setdefault(key, {})
            if sample in column and column[sample] != value:
                result.conflicts.append(f"{sample}: {key!r} given twice ({column[sample]!r}, "
                                        f"{value!r}); kept the first")
                continue
            column.setdefault(sample, value)
    for key, values in parsed.items():
        samples[key] = pd.Series(values, dtype=object).reindex(samples.index)
    result.characteristic_keys = list(parsed)
    result.samples = samples
    if table_lines:
        data = pd.read_csv(io.StringIO("".join(table_lines)), sep="\t", index_col=0,
                           dtype={0: str}, na_values=["null", "NA", ""])
        data.index = data.index.astype(str)
        data.index.name = None
        result.data = data.apply(pd.to_numeric, errors="coerce")
    return result


def needs_log2(values: np.ndarray) -> bool:
    """GEO2R's test for unlogged data: q99 > 100, or (max − min > 50 and q25 > 0)."""
    v = values[np.isfinite(values)]
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 0.99, 1.0])
    return bool(q[4] > 100 or (q[5] - q[0] > 50 and q[1] > 0))


def log2_if_needed(data: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Apply GEO2R's rule: log2 (values ≤ 0 → missing) when :func:`needs_log2`; say what was done."""
    if needs_log2(data.to_numpy(dtype=float)):
        # one new array, set to NaN and logged in place (data.where + np.log2 made two)
        values = data.to_numpy(dtype=float, copy=True)
        values[~(values > 0)] = np.nan
        np.log2(values, out=values)
        note = "values looked unlogged (GEO2R quantile rule): log2 applied, values <= 0 set missing"
        return pd.DataFrame(values, index=data.index, columns=data.columns), note
    return data, "values already log-scale (GEO2R quantile rule)"


def probes_to_genes(data: pd.DataFrame, mapping: pd.Series, *, rule: str = "highest_mean"
                    ) -> tuple[pd.DataFrame, dict]:
    """Collapse a probe × sample matrix to genes with a probe → symbol map.

    Probes without a symbol are dropped; several probes of a gene are collapsed by ``rule``
    (``highest_mean``, ``mean`` or ``first``).
    """
    from .expression import collapse_duplicates, normalise_symbols

    mapped = mapping.reindex(data.index)
    keep = mapped.notna()
    genes = data[keep.to_numpy()]  # boolean indexing already copies
    genes.index = normalise_symbols(mapped[keep])
    collapsed, removed = collapse_duplicates(genes, rule)
    return collapsed, {"probes": int(len(data)), "probes_with_symbol": int(keep.sum()),
                       "genes": int(len(collapsed)), "rule": rule,
                       "probes_collapsed": int(removed)}
