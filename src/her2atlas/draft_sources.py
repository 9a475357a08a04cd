"""Where ``her2atlas draft`` reads a cohort from: a GEO series matrix header, a characteristics
table (``Dataset_ID``, ``Sample_ID``, ``Platform_ID`` + one column per key), or local
expression + clinical files. Each gives the raw table, the keys to recognise and the manifest
sections that do not depend on the field mapping.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import clinical, fetch, geo
from .errors import Her2AtlasError

GEO_PAGE = "https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc="


@dataclass
class RawSource:
    """A cohort's raw clinical table and the manifest sections known before any mapping."""

    table: pd.DataFrame
    keys: list[str]
    table_name: str
    samples: pd.Index
    base: dict
    label: str
    notes: list[str] = field(default_factory=list)
    series_text: str = ""


def read_header(path: Path) -> str:
    """The lines of a series matrix before its data table (the table itself is never read)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    lines = []
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
        for line in handle:
            if line.startswith("!series_matrix_table_begin"):
                break
            lines.append(line)
    return "".join(lines)


def _download_matrix(gse: str, name: str, *, base_url: str, raw_dir: Path) -> Path:
    """Download a series matrix into ``raw_dir`` (the cohort step later finds it there)."""
    url = f"{base_url.rstrip('/')}/{geo.series_matrix_path(gse, name)}"
    dest = raw_dir / name
    if not dest.is_file():
        fetch.download(url, dest, retries=2)
    return dest


def _list_matrices(gse: str, *, base_url: str) -> list[str]:
    folder = geo.series_matrix_path(gse).rsplit('/', 1)[0]
    listing = f"{base_url.rstrip('/')}/{folder}/"
    with tempfile.TemporaryDirectory() as tmp:
        page = fetch.download(listing, Path(tmp) / "listing.html", retries=2, progress=False)
        return geo.list_series_matrices(page.read_text(encoding="utf-8", errors="replace"), gse)


def locate_series_matrix(gse: str, *, platform: str | None, data_roots: list[str | Path],
                         base_url: str, raw_dir: Path, allow_download: bool = True) -> Path:
    """The series matrix of ``gse``: under a data root first, else downloaded into ``raw_dir``.

    A multi-platform series has one ``GSE-GPL_series_matrix.txt.gz`` per platform; without
    ``platform`` such a series stops with the list of its matrices.
    """
    name = f"{gse}-{platform}_series_matrix.txt.gz" if platform else f"{gse}_series_matrix.txt.gz"
    local = fetch.find_in_roots(geo.series_matrix_path(gse, name), data_roots)
    if local is not None:
        return local
    cached = raw_dir / name
    if cached.is_file():
        return cached
    if not allow_download:
        raise Her2AtlasError(
            f"{geo.series_matrix_path(gse, name)} is under no data root "
            f"({', '.join(map(str, data_roots)) or 'none given'}) and downloads are off",
            field=gse, fix="pass --data-root MIRROR, allow downloads, or draft from a table with "
            "--characteristics TABLE")
    try:
        return _download_matrix(gse, name, base_url=base_url, raw_dir=raw_dir)
    except Her2AtlasError as exc:
        if "HTTP 404" not in exc.message or platform:
            raise Her2AtlasError(exc.message, field=exc.field, fix=(
                "check the accession and the network; offline, pass --data-root MIRROR or draft "
                "from a table with --characteristics TABLE")) from None
    names = _list_matrices(gse, base_url=base_url)
    if len(names) == 1:
        return _download_matrix(gse, names[0], base_url=base_url, raw_dir=raw_dir)
    raise Her2AtlasError(f"{gse} has one series matrix per platform: {', '.join(names)}",
                         field=gse, fix="pass --platform GPLxxx to draft one of them")


def _citation(series: dict[str, list[str]], gse: str) -> str:
    people = series.get("contributor", [])
    names = ", ".join(people[:3]) + (" et al." if len(people) > 3 else "")
    pubmed = series.get("pubmed_id", [])
    text = f"{names + '. ' if names else ''}GEO {gse}"
    return text + (f"; PubMed {', '.join(pubmed)}" if pubmed else "")


def geo_source(path: Path, *, gse: str, label: str) -> RawSource:
    """Parse a series matrix header with the pipeline's parser; keys = its characteristics."""
    text = read_header(path)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    try:
        parsed = geo.parse_series_matrix(tmp.name)
    finally:
        os.unlink(tmp.name)
    fields = {line.split("\t", 1)[0][len("!Sample_"):] for line in text.splitlines()
              if line.startswith("!Sample_")}
    samples = parsed.samples
    keys = [c for c in samples.columns if c not in fields]
    keys += [c for c in ("source_name_ch1",) if c in samples.columns]
    platforms = sorted(set(samples.get("platform_id", pd.Series(dtype=str)).dropna()))
    platforms = platforms or parsed.series.get("platform_id", [])
    gpl = platforms[0] if len(platforms) == 1 else None
    if gpl is None:
        raise Her2AtlasError(f"{path.name} lists platforms {platforms}", file=str(path),
                             field="!Sample_platform_id", fix="draft each platform's matrix "
                             "(--platform GPLxxx)")
    series = parsed.series
    title = (series.get("title") or [gse])[0]
    geo_spec = {"series": gse, "platform": gpl}
    if path.name != f"{gse}_series_matrix.txt.gz":
        geo_spec["matrices"] = [path.name]
    base = {
        "title": title, "citation": _citation(series, gse),
        "source": {"kind": "geo", "accession": gse, "url": GEO_PAGE + gse,
                   "description": f"{len(samples)} samples, {gpl}; "
                   f"{'; '.join(series.get('type', [])) or 'type not stated'}"},
        "platform": gpl, "geo": geo_spec, "expression": {"units": "auto"},
    }
    notes = ["title and citation come from the series matrix header (!Series_title, "
             "!Series_contributor, !Series_pubmed_id): check them against the publication"]
    notes += [f"series matrix: {c}" for c in parsed.conflicts]
    summary = " ".join(series.get("title", []) + series.get("summary", [])
                       + series.get("overall_design", []))
    return RawSource(samples, keys, "geo", pd.Index(samples.index), base, label, notes, summary)


def characteristics_source(path: Path) -> RawSource:
    """A characteristics table (``Dataset_ID``, ``Sample_ID``, ``Platform_ID`` + keys)."""
    raw = clinical.read_table(path)
    needed = ["Dataset_ID", "Sample_ID", "Platform_ID"]
    absent = [c for c in needed if c not in raw.columns]
    if absent:
        raise Her2AtlasError(
            f"column(s) {absent} not found; columns are {list(raw.columns)}", file=str(path),
            field=", ".join(absent), fix="give a table with Dataset_ID, Sample_ID and Platform_ID "
            "columns (one row per GEO sample), or use --expression/--clinical")
    table, _ = clinical.index_table(raw, id_column="Sample_ID", file=str(path))
    gse_ids, gpls = sorted(set(raw["Dataset_ID"])), sorted(set(raw["Platform_ID"]))
    if len(gse_ids) != 1 or len(gpls) != 1:
        raise Her2AtlasError(f"the table holds series {gse_ids} on platforms {gpls}", file=str(path),
                             field="Dataset_ID, Platform_ID", fix="give one series and platform")
    gse, gpl = gse_ids[0], gpls[0]
    keys = [c for c in table.columns if c not in needed]
    base = {
        "title": f"{gse} (title not in the characteristics table)", "citation": f"GEO {gse}",
        "source": {"kind": "geo", "accession": gse, "url": GEO_PAGE + gse,
                   "description": f"{len(table)} samples, {gpl}", "provenance": str(path)},
        "platform": gpl, "geo": {"series": gse, "platform": gpl}, "expression": {"units": "auto"},
    }
    notes = [f"title and citation are not in {path.name}: fill them in from the GEO page",
             f"keys are the column names of {path.name}; a table with cleaned names (lower case, "
             "'_') may spell GEO's raw keys differently (e.g. 'her2_status' for 'her2 status'): if "
             "the cohort step stops with the list of keys, replace the column names here"]
    return RawSource(table, keys, "geo", pd.Index(table.index), base, str(path), notes)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise Her2AtlasError(f"{path} is not under the data root {root}", field="--data-root",
                             fix="pass --data-root with a folder that holds both files") from None


def _expression_header(path: Path) -> tuple[list[str], pd.DataFrame]:
    sep = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
    head = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, nrows=2000)
    return list(head.columns), head


def propose_units(head: pd.DataFrame) -> tuple[str, str]:
    """(units, reason) from the first rows: integers → counts; log-like → log2; else tpm."""
    values = head.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "log2", "no numeric values in the first rows: log2 assumed"
    if not geo.needs_log2(values):
        return "log2", (f"values {values.min():.3g}-{values.max():.3g} look log-scale "
                        "(GEO2R quantile rule)")
    if (values >= 0).all() and np.allclose(values, np.round(values)):
        return "counts", "non-negative integers above the log range: raw counts"
    return "tpm", ("non-negative non-integers above the log range: tpm assumed (fpkm is "
                   "converted the same way, log2(x + 1))")


def files_source(expression: Path, clinical_path: Path, data_root: Path | None) -> RawSource:
    """Local expression (genes × samples or samples × genes) and clinical files."""
    header, head = _expression_header(expression)
    raw = clinical.read_table(clinical_path)
    columns = set(header[1:])
    overlap = {c: raw[c].astype(str).str.strip().isin(columns).sum() for c in raw.columns}
    id_column = max(overlap, key=overlap.get)
    orientation = "genes_by_samples"
    if overlap[id_column] == 0:
        ids = set(head.iloc[:, 0].astype(str))
        overlap = {c: raw[c].astype(str).str.strip().isin(ids).sum() for c in raw.columns}
        id_column = max(overlap, key=overlap.get)
        orientation = "samples_by_genes"
        if overlap[id_column] == 0:
            raise Her2AtlasError(
                f"no clinical column holds the expression sample ids (e.g. {header[1]!r})",
                file=str(clinical_path), field="id column",
                fix=f"columns are {list(raw.columns)}; make one hold the expression sample ids")
    if orientation == "samples_by_genes":
        samples = pd.Index(pd.read_csv(expression, sep=None, engine="python", usecols=[0],
                                       dtype=str).iloc[:, 0].str.strip())
    else:
        samples = pd.Index([c.strip() for c in header[1:]])
    table, dup = clinical.index_table(raw, id_column=id_column, duplicate_ids="first",
                                      file=str(clinical_path))
    root = data_root or Path(os.path.commonpath([expression.resolve().parent,
                                                 clinical_path.resolve().parent]))
    units, reason = propose_units(head)
    expr_spec = {"files": [expression.name], "orientation": orientation, "units": units,
                 "duplicate_genes": "highest_mean"}
    if header[0] and not header[0].startswith("Unnamed"):
        expr_spec["gene_column"] = header[0]
    base = {
        "title": f"{expression.stem} (title to fill in)", "citation": "to fill in",
        "source": {"kind": "files", "description": f"{len(samples)} samples from "
                   f"{expression.name} and {clinical_path.name}"},
        "files": [{"name": expression.name, "path": _relative(expression, root)},
                  {"name": clinical_path.name, "path": _relative(clinical_path, root)}],
        "expression": expr_spec,
        "clinical_tables": {"clinical": {"file": clinical_path.name, "id_column": id_column}},
    }
    notes = [f"files are paths relative to the data root {root}: add it to data_roots in "
             "config.yaml", f"expression: {orientation}, units {units}: "
             f"{reason} (from the first 2,000 rows)",
             f"clinical id column {id_column!r}: {overlap[id_column]} of {len(samples)} "
             "expression samples found in it"]
    if dup["duplicated_ids"]:
        notes.append(f"{dup['duplicated_ids']} id(s) occur twice in {clinical_path.name}: the "
                     "first row is used here; set duplicate_ids in clinical.tables")
        base["clinical_tables"]["clinical"]["duplicate_ids"] = "first"
    return RawSource(table, list(table.columns), "clinical", samples, base, str(clinical_path),
                     notes)
