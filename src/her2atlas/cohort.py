"""Build one harmonised cohort (AnnData) from a manifest and its fetched files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import clinical, expression, platform
from .errors import CountMismatchError, Her2AtlasError

log = logging.getLogger(__name__)

DESIGNS = {
    "randomised_trastuzumab": "randomised ± trastuzumab: predictive (score × trastuzumab) contrast",
    "multi_arm_anti_her2": "several anti-HER2 arms: score × arm",
    "trastuzumab_treated": "all trastuzumab-treated: prognostic within treated",
    "not_trastuzumab_treated": "no trastuzumab: prognosis only",
    "treatment_unrecorded": "trastuzumab exposure not recorded: prognosis only",
}


def _file_path(raw_dir: Path, name: str, manifest_file: str) -> Path:
    path = raw_dir / name
    if not path.is_file():
        raise Her2AtlasError(
            f"file {name!r} is not in {raw_dir}", file=manifest_file, field="files",
            fix="run the fetch step first (snakemake does this) or check the file name",
        )
    return path


def load_geo_expression(manifest: dict, raw_dir: Path, manifest_file: str
                        ) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Series matrices → gene × sample log2 matrix, with the parsed GEO sample table."""
    from . import geo

    spec = manifest["expression"]
    geo_spec = manifest["geo"]
    parsed = [geo.parse_series_matrix(_file_path(raw_dir, name, manifest_file))
              for name in spec["files"]]
    samples = pd.concat([p.samples for p in parsed], axis=0)
    steps: dict[str, Any] = {"files": list(spec["files"]),
                             "platform": geo_spec["platform"],
                             "characteristics_conflicts": sum(len(p.conflicts) for p in parsed)}
    key = geo_spec.get("sample_key", "geo_accession")
    if key != "geo_accession":
        if key not in samples.columns:
            raise Her2AtlasError(f"GEO sample field {key!r} not found", file=manifest_file,
                                 field="geo.sample_key",
                                 fix=f"use one of: {', '.join(samples.columns[:15])}")
        samples = samples.assign(geo_accession=samples.index).set_index(key)
        samples.index.name = None
    supplementary = geo_spec.get("expression_file")
    if supplementary:  # RNA-seq series: gene-level values in a supplementary file
        matrix = expression.read_matrix(
            _file_path(raw_dir, supplementary["name"], manifest_file),
            orientation=supplementary.get("orientation", "genes_by_samples"),
            gene_column=supplementary.get("gene_column"))
        matrix.index = expression.normalise_symbols(matrix.index)
        matrix = expression.to_log2(matrix, supplementary["units"], file=manifest_file)
        matrix, removed = expression.collapse_duplicates(
            matrix, spec.get("duplicate_genes", "highest_mean"))
        steps.update(expression_file=supplementary["name"], units=supplementary["units"],
                     to_log2=expression.UNIT_RULES[supplementary["units"]],
                     duplicate_genes={"rows_removed": removed})
        return matrix, steps, samples
    data = pd.concat([p.data for p in parsed], axis=1)
    if data.empty:
        raise Her2AtlasError("the series matrix has no data table", file=manifest_file,
                             field="geo.series", fix="GEO has no processed values for it")
    annotation = spec["platform_annotation"]
    if annotation and not (raw_dir / annotation).is_file():  # the fetch used the SOFT fallback
        soft = Path(geo.platform_soft_path(geo_spec["platform"])).name
        if (raw_dir / soft).is_file():
            annotation = soft
    table = platform.read_soft_platform(_file_path(raw_dir, annotation, manifest_file))
    steps["platform_annotation"] = annotation
    mapping = platform.probe_to_symbol(table, multi=geo_spec.get("multi_gene_probes", "drop"),
                                       file=annotation)
    units = spec.get("units", "auto")
    if units == "auto":
        data, note = geo.log2_if_needed(data)
        steps["units"] = "auto"
        steps["to_log2"] = note
    else:
        data = expression.to_log2(data, units, file=manifest_file)
        steps["units"] = units
        steps["to_log2"] = expression.UNIT_RULES[units]
    genes, summary = geo.probes_to_genes(data, mapping,
                                         rule=spec.get("duplicate_genes", "highest_mean"))
    steps["probe_collapse"] = {**summary, "multi_gene_probes":
                               geo_spec.get("multi_gene_probes", "drop")}
    all_na = genes.isna().all(axis=1)
    genes = genes[~all_na]
    steps["all_na_genes_dropped"] = int(all_na.sum())
    return genes, steps, samples


def load_expression(spec: dict, raw_dir: Path, manifest_file: str) -> tuple[pd.DataFrame, dict]:
    """Read, combine, correct, convert and collapse the expression files of a manifest.

    Returns
    -------
    (pandas.DataFrame, dict)
        Genes × samples on log2 scale with unique normalised symbols, and the provenance
        entries describing every transformation applied.
    """
    frames = []
    for name in spec["files"]:
        path = _file_path(raw_dir, name, manifest_file)
        frames.append(read_one := expression.read_matrix(
            path, orientation=spec.get("orientation", "genes_by_samples"),
            gene_column=spec.get("gene_column"), drop_columns=spec.get("drop_columns")))
        if not read_one.columns.is_unique:
            dup = read_one.columns[read_one.columns.duplicated()][0]
            raise Her2AtlasError(f"sample id {dup!r} occurs twice", file=str(path),
                                 field="expression columns",
                                 fix="remove the duplicated sample column")
    steps: dict[str, Any] = {"files": list(spec["files"])}
    if len(frames) > 1:
        genes = frames[0].index
        for frame, name in zip(frames[1:], spec["files"][1:], strict=True):
            if not frame.index.equals(genes):
                raise Her2AtlasError(
                    "expression files list different genes", file=name, field="expression.files",
                    fix="combine only files with the same gene rows",
                )
        combined = frames[0]
        overlap_total = 0
        for frame in frames[1:]:
            overlap = combined.columns.intersection(frame.columns)
            overlap_total += len(overlap)
            if len(overlap) and not np.allclose(
                combined[overlap].to_numpy(), frame[overlap].to_numpy(), equal_nan=True
            ):
                raise Her2AtlasError(
                    f"samples {list(overlap[:3])} occur in several files with different values",
                    file=manifest_file, field="expression.files",
                    fix="remove one copy of the conflicting samples",
                )
            combined = pd.concat([combined, frame.drop(columns=overlap)], axis=1)
        steps["samples_in_several_files_kept_once"] = overlap_total
    else:
        combined = frames[0]

    all_na = combined.isna().all(axis=1)
    combined = combined[~all_na]
    steps["all_na_genes_dropped"] = int(all_na.sum())
    combined.index = expression.normalise_symbols(combined.index)
    empty = combined.index.isin(["", "NAN", "NONE", "---"])
    combined = combined[~empty]
    steps["symbol_normalisation"] = "strip whitespace, upper-case"

    psc = spec.get("probe_sum_correction")
    if psc:
        counts = []
        for source in psc["sources"]:
            path = _file_path(raw_dir, source["file"], manifest_file)
            if source["format"] == "soft":
                table = platform.read_soft_platform(path)
            else:
                table = platform.read_probe_map_tsv(path, platform=source["platform"])
            counts.append(platform.probes_per_gene(table, file=str(path)))
        # Duplicate symbols first, so that a gene's sum is divided once.
        combined, _ = expression.collapse_duplicates(combined, spec.get("duplicate_genes",
                                                                      "highest_mean"))
        combined, summary = expression.correct_probe_sums(
            combined, counts, max_single_probe=float(psc.get("max_single_probe_log2", 16.0)))
        summary["sources"] = [s["file"] for s in psc["sources"]]
        steps["probe_sum_correction"] = summary

    units = spec["units"]
    raw_counts = combined if units == "counts" else None
    combined = expression.to_log2(combined, units, file=manifest_file)
    steps["units"] = units
    steps["to_log2"] = expression.UNIT_RULES[units]
    rule = spec.get("duplicate_genes", "highest_mean")
    combined, removed = expression.collapse_duplicates(combined, rule, companion=raw_counts)
    steps["duplicate_genes"] = {"rule": rule, "rows_removed": removed}
    if combined.shape[0] == 0 or combined.shape[1] == 0:
        raise Her2AtlasError("expression matrix is empty after reading", file=manifest_file,
                             field="expression", fix="check the files and orientation")
    return combined, steps


def load_clinical(spec: dict, samples: pd.Index, raw_dir: Path,
                  manifest_file: str, *, extra_tables: dict[str, pd.DataFrame] | None = None
                  ) -> tuple[pd.DataFrame, dict]:
    """Read every clinical table and map its fields onto the expression samples.

    ``extra_tables`` (e.g. the GEO sample characteristics as table ``geo``) are used as given.
    """
    tables: dict[str, pd.DataFrame] = {}
    notes: dict[str, Any] = {}
    for name, table in (extra_tables or {}).items():
        tables[name] = table.astype(object).where(table.notna(), "")
        notes[name] = {"samples_matched": int(samples.isin(table.index).sum()),
                       "duplicated_ids": 0, "conflicting_ids": 0}
    for name, table_spec in spec.get("tables", {}).items():
        path = _file_path(raw_dir, table_spec["file"], manifest_file)
        raw = clinical.read_table(path, comment=table_spec.get("comment"))
        indexed, summary = clinical.index_table(
            raw, id_column=table_spec["id_column"], id_length=table_spec.get("id_length"),
            duplicate_ids=table_spec.get("duplicate_ids", "error"), file=str(path))
        if table_spec.get("sample_id_length"):  # patient-level table joined on sample ids
            cut = samples.str.slice(0, table_spec["sample_id_length"])
            indexed = indexed.reindex(cut).set_axis(samples)
            indexed = indexed[indexed.notna().any(axis=1)]
        matched = int(samples.isin(indexed.index).sum())
        if matched == 0:
            raise Her2AtlasError(
                f"no clinical id matches an expression sample (e.g. clinical {indexed.index[0]!r}"
                f" vs expression {samples[0]!r})",
                file=str(path), field=table_spec["id_column"],
                fix="check id_column and id_length so that ids match the expression columns",
            )
        summary["samples_matched"] = matched
        notes[name] = summary
        tables[name] = indexed
    obs = clinical.map_fields(tables, samples, spec.get("fields", {}),
                              missing=spec.get("missing"), file=manifest_file)
    clinical.check_survival_pairs(obs, file=manifest_file)
    return obs, notes


def clinical_only_counts(spec: dict, raw_dir: Path, manifest_file: str) -> dict[str, int]:
    """Counts over every row of the first clinical table (fields from tables keyed the same way)."""
    first = next(iter(spec.get("tables", {}).values()))
    path = _file_path(raw_dir, first["file"], manifest_file)
    ids = clinical.read_table(path, comment=first.get("comment"))[first["id_column"]]
    ids = pd.Index(ids.astype(str).str.strip().unique())
    table_spec = {**spec, "tables": {k: {kk: vv for kk, vv in v.items()
                                         if kk != "sample_id_length"}
                                     for k, v in spec["tables"].items()}}
    obs, _ = load_clinical(table_spec, ids, raw_dir, manifest_file)
    return clinical.count_summary(obs)


def apply_sample_filter(obs: pd.DataFrame, rules: dict, manifest_file: str) -> pd.Series:
    """Boolean mask of samples kept by ``sample_filter`` (field → allowed values)."""
    keep = pd.Series(True, index=obs.index)
    for field, allowed in (rules or {}).items():
        if field not in obs:
            raise Her2AtlasError(f"filter on undeclared field {field!r}", file=manifest_file,
                                 field=f"sample_filter.{field}",
                                 fix="declare the field under clinical.fields first")
        keep &= obs[field].astype(object).isin(allowed)
    if not keep.any():
        raise Her2AtlasError("the sample filter leaves no samples", file=manifest_file,
                             field="sample_filter", fix="check the allowed values")
    return keep


def check_counts(found: dict[str, int], expected: dict[str, int], *, manifest_file: str,
                 on_mismatch: str = "error") -> list[str]:
    """Compare counts; raise (or return warnings) with a table of expected vs found."""
    rows = []
    for key, want in expected.items():
        have = found.get(key)
        if have != want:
            rows.append((key, want, "not available" if have is None else have))
    if not rows:
        return []
    width = max(len(r[0]) for r in rows)
    table = "\n".join(f"    {k:<{width}}  expected {w!s:>6}  found {h!s:>6}" for k, w, h in rows)
    message = f"cohort counts differ from the manifest:\n{table}"
    if on_mismatch == "warn":
        log.warning(message)
        return [f"count mismatch: {k} expected {w}, found {h}" for k, w, h in rows]
    raise CountMismatchError(
        message, file=manifest_file, field="expected",
        fix="if the source changed, check it and update 'expected' in the manifest; "
        "set on_count_mismatch: warn in config.yaml to continue with a warning",
    )


def _h5_safe(value: Any) -> Any:
    """Make provenance storable in h5ad (no None, no mixed lists)."""
    if isinstance(value, dict):
        return {str(k): _h5_safe(v) for k, v in value.items()}
    if value is None:
        return "NA"
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, str) for v in value):
            return list(value)
        if value and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return list(value)
        return json.dumps(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def plain(value: Any) -> Any:
    """Turn what h5ad gives back (numpy arrays and scalars) into plain Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def declared_endpoints(provenance: dict) -> dict:
    """The manifest's endpoints from a cohort's provenance: ``{"response", "survival": [...]}``."""
    declared = plain(provenance).get("endpoints", {})
    survival = declared.get("survival", [])
    return {"response": declared.get("response"),
            "survival": [survival] if isinstance(survival, str) else [str(e) for e in survival]}


def _obs_for_h5ad(obs: pd.DataFrame) -> pd.DataFrame:
    out = obs.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = pd.Categorical(out[column].where(out[column].notna(), None))
    return out


def build_cohort(
    manifest: dict,
    raw_dir: str | Path,
    *,
    manifest_file: str,
    fetched: list[dict] | None = None,
    on_count_mismatch: str = "error",
):
    """Build the harmonised cohort described by ``manifest`` from files in ``raw_dir``.

    Parameters
    ----------
    manifest
        A validated cohort manifest.
    raw_dir
        ``data/raw/{cohort}/`` holding the fetched files.
    manifest_file
        Path of the manifest, named in errors and provenance.
    fetched
        Fetch records (name, source, sha256, bytes) for the provenance.
    on_count_mismatch
        ``error`` (default) or ``warn``.

    Returns
    -------
    anndata.AnnData
        ``X`` samples × genes (float32, log2), ``obs`` in the standard vocabulary,
        ``uns["provenance"]`` and ``uns["counts"]``.
    """
    import anndata as ad

    raw_dir = Path(raw_dir)
    extra_tables = {}
    if manifest["source"]["kind"] == "geo":
        matrix, steps, geo_samples = load_geo_expression(manifest, raw_dir, manifest_file)
        extra_tables["geo"] = geo_samples
    else:
        matrix, steps = load_expression(manifest["expression"], raw_dir, manifest_file)
    raw_counts = matrix.attrs.pop("companion", None)  # raw counts, collapsed like the log2 matrix
    samples = pd.Index(matrix.columns)
    obs, table_notes = load_clinical(manifest.get("clinical", {}), samples, raw_dir,
                                     manifest_file, extra_tables=extra_tables)
    warnings: list[str] = []
    if manifest.get("expected_clinical"):
        warnings += check_counts(
            clinical_only_counts(manifest["clinical"], raw_dir, manifest_file),
            manifest["expected_clinical"], manifest_file=manifest_file,
            on_mismatch=on_count_mismatch)
    keep = apply_sample_filter(obs, manifest.get("sample_filter"), manifest_file)
    obs = obs[keep]
    matrix = matrix.loc[:, keep.to_numpy()]
    counts = clinical.count_summary(obs)
    warnings += check_counts(counts, manifest.get("expected", {}), manifest_file=manifest_file,
                             on_mismatch=on_count_mismatch)
    unmatched = {name: len(samples) - note["samples_matched"] for name, note in
                 table_notes.items() if note["samples_matched"] < len(samples)}
    for name, n in unmatched.items():
        warnings.append(f"{n} expression sample(s) have no row in clinical table {name!r}")
    provenance = {
        "cohort": manifest["id"],
        "title": manifest.get("title", ""),
        "citation": manifest.get("citation", ""),
        "design": manifest["design"],
        "design_meaning": DESIGNS[manifest["design"]],
        "synthetic": bool(manifest.get("synthetic", False)),
        "source": manifest["source"],
        "platform": manifest.get("platform", "NA"),
        "manifest": manifest_file,
        "manifest_version": manifest.get("version", 1),
        "files": fetched or [],
        "transformations": steps,
        "clinical_tables": table_notes,
        "sample_filter": manifest.get("sample_filter", {}),
        "endpoints": manifest.get("endpoints", {}),
        "unverified": manifest.get("unverified", ""),
        "warnings": warnings,
    }
    adata = ad.AnnData(
        X=matrix.T.to_numpy(dtype=np.float32),
        obs=_obs_for_h5ad(obs),
        var=pd.DataFrame(index=pd.Index(matrix.index.astype(str), name=None)),
    )
    if raw_counts is not None:  # kept for count-aware methods (GSVA Poisson kernel)
        adata.layers["counts"] = raw_counts.loc[:, keep.to_numpy()].T.to_numpy(dtype=np.float32)
    adata.uns["provenance"] = _h5_safe(provenance)
    adata.uns["counts"] = counts
    return adata


def qc_summary(adata) -> dict:
    """Per-cohort QC numbers for ``results/qc/{cohort}.json`` and the report."""
    X = np.asarray(adata.X, dtype=float)
    quantiles = np.nanpercentile(X, [5, 25, 50, 75, 95], axis=1)
    return {
        "cohort": adata.uns["provenance"]["cohort"],
        "n_samples": int(adata.n_obs),
        "n_genes": int(adata.n_vars),
        "counts": {k: int(v) for k, v in adata.uns["counts"].items()},
        "sample_quantiles": {
            "samples": list(map(str, adata.obs_names)),
            "p5": quantiles[0].round(4).tolist(), "p25": quantiles[1].round(4).tolist(),
            "median": quantiles[2].round(4).tolist(), "p75": quantiles[3].round(4).tolist(),
            "p95": quantiles[4].round(4).tolist(),
        },
        "missing_fraction": float(np.isnan(X).mean()),
    }
