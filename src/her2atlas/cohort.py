"""Build one harmonised cohort (AnnData) from a manifest and its fetched files."""

from __future__ import annotations

import json
import logging
import re
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
    genes = _drop_rows(genes, all_na)
    steps["all_na_genes_dropped"] = int(all_na.sum())
    return genes, steps, samples


def _drop_rows(frame: pd.DataFrame, drop) -> pd.DataFrame:
    """``frame`` without the rows flagged in ``drop``; no copy when none is flagged."""
    drop = np.asarray(drop, dtype=bool)
    return frame[~drop] if drop.any() else frame


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
            gene_column=spec.get("gene_column"), drop_columns=spec.get("drop_columns"),
            delimiter=spec.get("delimiter"), decimal=spec.get("decimal", "."),
            sheet=spec.get("sheet")))
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
    combined = _drop_rows(combined, all_na)
    steps["all_na_genes_dropped"] = int(all_na.sum())
    combined.index = expression.normalise_symbols(combined.index)
    empty = combined.index.isin(["", "NAN", "NONE", "---"])
    combined = _drop_rows(combined, empty)
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


#: Built-in clinical table: one row per expression sample, column ``sample_id`` (the id itself),
#: so that a field can be derived from the sample ids (e.g. TCGA patient barcodes).
SAMPLE_TABLE = "expression_samples"


def _uses_sample_table(spec: dict) -> bool:
    return any(f.get("table") == SAMPLE_TABLE for f in spec.get("fields", {}).values())


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and re.search(r"\\(\d|g<)", value) is not None


def extract_patient_ids(tables: dict[str, pd.DataFrame], samples: pd.Index, spec: dict,
                        manifest_file: str) -> pd.Series:
    """Map ``clinical.fields.patient_id`` when its ``regex`` values are templates.

    For ``patient_id`` a ``regex`` entry ``[pattern, template]`` whose template holds a group
    reference (``\\1``, ``\\g<name>``) extracts the id from the raw value with
    :meth:`re.Match.expand`: ``["^(TCGA-..-....)", "\\1"]`` keeps the patient part of a TCGA
    barcode. ``map`` (exact raw → id) is tried first; a present value that nothing matches is
    an error.
    """
    field = "clinical.fields.patient_id"
    if spec["table"] not in tables or spec["column"] not in tables[spec["table"]].columns:
        raise Her2AtlasError(f"table {spec['table']!r} / column {spec['column']!r} not found",
                             file=manifest_file, field=field,
                             fix=f"tables are: {', '.join(tables)}")
    raw = tables[spec["table"]][spec["column"]].reindex(samples)
    lookup = {str(k): v for k, v in (spec.get("map") or {}).items()}
    patterns = [(re.compile(p), v) for p, v in spec.get("regex", [])]
    missing = set(clinical.MISSING_TOKENS) | set(map(str, spec.get("missing", [])))
    out: list[str | None] = []
    for sample, value in raw.items():
        text = None if pd.isna(value) or str(value).strip() in missing else str(value).strip()
        if text is None or text in lookup:
            out.append(None if text is None else lookup[text])
            continue
        for pattern, template in patterns:
            match = pattern.search(text)
            if match:
                out.append(match.expand(template) if _is_template(template) else template)
                break
        else:
            raise Her2AtlasError(f"patient id of sample {sample!r} ({text!r}) matches no regex",
                                 file=manifest_file, field=f"{field}.regex",
                                 fix="extend the regex so that every id matches")
    return pd.Series(out, index=samples, dtype=object)


def join_via(indexed: pd.DataFrame, tables: dict[str, pd.DataFrame], samples: pd.Index,
             via: dict, name: str, manifest_file: str) -> pd.DataFrame:
    """Rows of a patient-level table for each sample, through a sample → patient table.

    ``via`` names a table declared before this one (indexed by sample id) and its
    ``column`` holding the patient id.
    """
    field = f"clinical.tables.{name}.via"
    if via["table"] not in tables:
        raise Her2AtlasError(f"table {via['table']!r} is not declared before {name!r}",
                             file=manifest_file, field=field,
                             fix=f"declare the sample → patient table first; tables: "
                             f"{', '.join(tables) or '(none)'}")
    mapping = tables[via["table"]]
    if via["column"] not in mapping.columns:
        raise Her2AtlasError(f"column {via['column']!r} not in table {via['table']!r}",
                             file=manifest_file, field=f"{field}.column",
                             fix=clinical.missing_column_fix(via["column"], mapping.columns))
    patients = mapping[via["column"]].reindex(samples).astype(object)
    joined = indexed.reindex(patients.where(patients.notna(), "\0").to_numpy())
    joined = joined.set_axis(samples)
    return joined[joined.notna().any(axis=1)]


def load_clinical(spec: dict, samples: pd.Index, raw_dir: Path,
                  manifest_file: str, *, extra_tables: dict[str, pd.DataFrame] | None = None
                  ) -> tuple[pd.DataFrame, dict]:
    """Read every clinical table and map its fields onto the expression samples.

    ``extra_tables`` (e.g. the GEO sample characteristics as table ``geo``) are used as given.
    A field may name the built-in table :data:`SAMPLE_TABLE` (column ``sample_id``). A
    ``patient_id`` with template regex values is extracted by :func:`extract_patient_ids`.
    """
    tables: dict[str, pd.DataFrame] = {}
    notes: dict[str, Any] = {}
    if _uses_sample_table(spec):
        extra_tables = {**(extra_tables or {}),
                        SAMPLE_TABLE: pd.DataFrame({"sample_id": samples}, index=samples)}
    for name, table in (extra_tables or {}).items():
        tables[name] = table.astype(object).where(table.notna(), "")
        notes[name] = {"samples_matched": int(samples.isin(table.index).sum()),
                       "duplicated_ids": 0, "conflicting_ids": 0}
    for name, table_spec in spec.get("tables", {}).items():
        path = _file_path(raw_dir, table_spec["file"], manifest_file)
        raw = clinical.read_table_spec(path, table_spec)
        indexed, summary = clinical.index_table(
            raw, id_column=table_spec["id_column"], id_length=table_spec.get("id_length"),
            duplicate_ids=table_spec.get("duplicate_ids", "error"), file=str(path))
        if table_spec.get("sample_id_length"):  # patient-level table joined on sample ids
            cut = samples.str.slice(0, table_spec["sample_id_length"])
            indexed = indexed.reindex(cut).set_axis(samples)
            indexed = indexed[indexed.notna().any(axis=1)]
        elif table_spec.get("via"):  # patient-level table joined through a sample → patient table
            indexed = join_via(indexed, tables, samples, table_spec["via"], name, manifest_file)
        matched = int(samples.isin(indexed.index).sum())
        if matched == 0:
            raise Her2AtlasError(
                f"no clinical id matches an expression sample (e.g. clinical {indexed.index[0]!r}"
                f" vs expression {samples[0]!r})",
                file=str(path), field=table_spec["id_column"],
                fix="check id_column and id_length so that ids match the expression columns; "
                "if the expression file has one row per sample, set expression.orientation: "
                "samples_by_genes (her2atlas check-manifest --data guesses it)",
            )
        summary["samples_matched"] = matched
        notes[name] = summary
        tables[name] = indexed
    fields = dict(spec.get("fields", {}))
    id_spec = fields.get("patient_id")
    extract = bool(id_spec and "table" in id_spec
                   and any(_is_template(v) for _, v in id_spec.get("regex", [])))
    if extract:
        del fields["patient_id"]
    obs = clinical.map_fields(tables, samples, fields, missing=spec.get("missing"),
                              file=manifest_file)
    if extract:
        obs.insert(0, "patient_id", extract_patient_ids(tables, samples, id_spec, manifest_file))
    clinical.check_survival_pairs(obs, file=manifest_file)
    return obs, notes


def clinical_only_counts(spec: dict, raw_dir: Path, manifest_file: str) -> dict[str, int]:
    """Counts over every row of the first clinical table (fields from tables keyed the same way)."""
    first = next(iter(spec.get("tables", {}).values()))
    path = _file_path(raw_dir, first["file"], manifest_file)
    ids = clinical.read_table_spec(path, first)[first["id_column"]]
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
                 on_mismatch: str = "error", section: str = "expected") -> list[str]:
    """Compare counts; raise (or return warnings) with a table of expected vs found.

    ``section`` (``expected`` or ``expected_clinical``) is the manifest key named in messages.
    """
    rows = []
    for key, want in expected.items():
        have = found.get(key)
        if have != want:
            rows.append((key, want, "not available" if have is None else have))
    if not rows:
        return []
    width = max(len(r[0]) for r in rows)
    table = "\n".join(f"    {k:<{width}}  expected {w!s:>6}  found {h!s:>6}" for k, w, h in rows)
    message = f"cohort counts differ from the manifest's '{section}':\n{table}"
    if on_mismatch == "warn":
        log.warning(message)
        return [f"count mismatch: {section}.{k} expected {w}, found {h}" for k, w, h in rows]
    raise CountMismatchError(
        message, file=manifest_file, field=section,
        fix=f"if the source changed, check it and update '{section}' in the manifest; "
        "set on_count_mismatch: warn in config.yaml to continue with a warning",
    )


def _replicate_groups(obs: pd.DataFrame) -> pd.Series:
    """Patient key per sample (a sample without patient id is its own patient)."""
    ids = obs["patient_id"].astype(object)
    return ids.where(ids.notna(), pd.Series([f"\0{s}" for s in obs.index], index=obs.index))


def _merge_clinical(obs: pd.DataFrame, members: list[str], patient: str,
                    manifest_file: str) -> dict[str, Any]:
    """Values to fill in the first replicate's row; the replicates' clinical values must agree.

    Returns the non-missing value of every column that the first sample lacks but another
    replicate has.
    """
    rows = obs.loc[members]
    fill: dict[str, Any] = {}
    for column in obs.columns:
        present = rows[column].dropna()
        if present.astype(str).nunique() > 1:
            raise Her2AtlasError(
                f"replicates of patient {patient!r} ({', '.join(members)}) disagree on {column}: "
                f"{sorted(present.astype(str).unique())}",
                file=manifest_file, field="replicates.rule",
                fix="use rule: first, or correct the clinical table (rule mean needs clinical "
                "fields that agree)")
        if len(present) and pd.isna(rows[column].iloc[0]):
            fill[column] = present.iloc[0]
    return fill


def collapse_replicates(matrix: pd.DataFrame, obs: pd.DataFrame, rule: dict | None, *,
                        manifest_file: str, counts: pd.DataFrame | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, dict,
                                   list[str]]:
    """One row per patient: collapse samples sharing ``patient_id`` by the manifest's rule.

    Parameters
    ----------
    matrix
        Genes × samples (log2), columns in the order of ``obs``.
    obs
        Standard clinical table; ``patient_id`` identifies the patient (NA = own patient).
    rule
        The manifest's ``replicates`` (``rule``: ``first`` keeps the first sample in sample
        order; ``mean`` averages expression, and raw counts, over the patient's samples and
        requires their non-missing clinical values to agree) or None.
    manifest_file
        Named in errors.
    counts
        Raw counts (genes × samples) collapsed like ``matrix``, or None.

    Returns
    -------
    (matrix, obs, counts, summary, warnings)
        The collapsed data (a collapsed patient keeps its first sample's id), a provenance
        summary and warnings (duplicated patients without a rule: all samples kept).
    """
    if "patient_id" not in obs:
        if rule:
            raise Her2AtlasError("replicates is declared but no patient_id is mapped",
                                 file=manifest_file, field="replicates",
                                 fix="map clinical.fields.patient_id (the column that "
                                 "identifies the patient) or remove 'replicates'")
        return matrix, obs, counts, {"rule": "none", "note": "no patient_id mapped"}, []
    key = _replicate_groups(obs)
    duplicated = key.duplicated(keep=False)
    groups: dict[str, list[str]] = {}
    for sample, patient in key[duplicated].items():  # sample order within each patient
        groups.setdefault(patient, []).append(sample)
    n_patients = int(key.nunique())
    summary: dict[str, Any] = {"patients": n_patients,
                               "patients_with_several_samples": len(groups),
                               "examples": [f"{k}: {', '.join(v)}" for k, v in
                                            list(groups.items())[:5]]}
    if not groups:
        return matrix, obs, counts, {**summary, "rule": (rule or {}).get("rule", "none"),
                                     "samples_removed": 0}, []
    if not rule:
        n = sum(len(v) for v in groups.values())
        warning = (f"{len(groups)} patient(s) have several samples ({n} samples, e.g. "
                   f"{summary['examples'][0]}); no 'replicates' rule in the manifest, so all "
                   "samples are kept and these patients count more than once")
        return matrix, obs, counts, {**summary, "rule": "none", "samples_removed": 0}, [warning]
    keep = ~key.duplicated(keep="first")
    if rule["rule"] == "mean":
        matrix = matrix.copy()
        obs = obs.copy()
        counts = None if counts is None else counts.copy()
        for patient, members in groups.items():
            first = members[0]
            for column, value in _merge_clinical(obs, members, patient, manifest_file).items():
                obs.at[first, column] = value
            matrix[first] = matrix[members].mean(axis=1, skipna=True)
            if counts is not None:
                counts[first] = counts[members].mean(axis=1, skipna=True)
    elif rule["rule"] != "first":
        raise Her2AtlasError(f"unknown replicates rule {rule['rule']!r}", file=manifest_file,
                             field="replicates.rule", fix="use first or mean")
    mask = keep.to_numpy()
    summary.update(rule=rule["rule"], description=rule.get("description", ""),
                   samples_removed=int((~mask).sum()))
    return (matrix.loc[:, mask], obs[mask], None if counts is None else counts.loc[:, mask],
            summary, [])


def add_pam50_calls(obs: pd.DataFrame, matrix: pd.DataFrame, settings: dict | None
                    ) -> tuple[pd.DataFrame, dict, list[str]]:
    """Add ``obs["pam50_called"]`` (PAM50 from expression) and its QC summary.

    Parameters
    ----------
    obs
        Standard clinical table (a published ``pam50`` column stays as it is).
    matrix
        Genes × samples, log2.
    settings
        ``centroids`` (a genes × subtypes table or a path, see :func:`pam50.read_centroids`),
        ``min_genes`` (default 35), ``centring`` (default ``median``) and optional ``file`` (the
        fetch record of the centroid file, for the provenance); None = not configured.

    Returns
    -------
    (obs, summary, warnings)
    """
    from . import pam50

    if not settings:
        return obs, {"status": "not_configured", "note": "no pam50 section in the config"}, []
    centroids = settings["centroids"]
    if not isinstance(centroids, pd.DataFrame):
        centroids = pam50.read_centroids(centroids)
    result = pam50.call_pam50(matrix.T, centroids, min_genes=int(settings.get("min_genes", 35)),
                              centring=settings.get("centring", "median"))
    obs = obs.copy()
    obs["pam50_called"] = result.calls.reindex(obs.index).astype(object)
    summary = result.summary()
    record = settings.get("file") or {}
    summary["centroids"] = {k: record[k] for k in ("name", "sha256", "source") if k in record}
    summary["agreement"] = (pam50.agreement(obs["pam50"], obs["pam50_called"])
                            if "pam50" in obs and result.called else None)
    warnings = [f"PAM50 {result.note}"] if result.note else []
    return obs, summary, warnings


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
    pam50: dict | None = None,
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
    pam50
        PAM50 settings for :func:`add_pam50_calls` (config ``pam50`` with the centroid table or
        path as ``centroids``); None = no ``pam50_called`` column.

    Samples are filtered (``sample_filter``), collapsed to one per patient
    (:func:`collapse_replicates`), PAM50-called over the samples kept, and then counted against
    ``expected`` (so expected counts are per patient when replicates are collapsed).

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
            on_mismatch=on_count_mismatch, section="expected_clinical")
    keep = apply_sample_filter(obs, manifest.get("sample_filter"), manifest_file)
    obs = obs[keep]
    if not keep.all():  # column selection copies the whole matrix, even when all are kept
        matrix = matrix.loc[:, keep.to_numpy()]
    if raw_counts is not None and not keep.all():
        raw_counts = raw_counts.loc[:, keep.to_numpy()]
    matrix, obs, raw_counts, replicates, notes = collapse_replicates(
        matrix, obs, manifest.get("replicates"), manifest_file=manifest_file, counts=raw_counts)
    warnings += notes
    # X is made once; PAM50 is called on a view of its float32 values (so that the calls can be
    # recomputed from X) rather than on a second float32 copy of the matrix
    x = matrix.T.to_numpy(dtype=np.float32)
    as_stored = pd.DataFrame(x.T, index=matrix.index, columns=matrix.columns, copy=False)
    obs, pam50_summary, notes = add_pam50_calls(obs, as_stored, pam50)
    warnings += notes
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
        "replicates": replicates,
        "pam50_called": pam50_summary,
        "warnings": warnings,
    }
    adata = ad.AnnData(
        X=x,
        obs=_obs_for_h5ad(obs),
        var=pd.DataFrame(index=pd.Index(matrix.index.astype(str), name=None)),
    )
    if raw_counts is not None:  # kept for count-aware methods (GSVA Poisson kernel)
        adata.layers["counts"] = raw_counts.T.to_numpy(dtype=np.float32)
    adata.uns["provenance"] = _h5_safe(provenance)
    adata.uns["counts"] = counts
    return adata


def qc_summary(adata) -> dict:
    """Per-cohort QC numbers for ``results/qc/{cohort}.json`` and the report."""
    X = np.asarray(adata.X, dtype=float)
    provenance = plain(dict(adata.uns["provenance"]))
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
        "replicates": provenance.get("replicates", {}),
        "pam50_called": provenance.get("pam50_called", {}),
    }
