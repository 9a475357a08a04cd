"""Cohort manifests: load, validate against the schema, and check what the schema cannot."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import Her2AtlasError, did_you_mean
from .fetch import safe_relative
from .validation import default_schema, load_validated

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_cohort_id(cohort: str, *, file: str = "config.yaml") -> str:
    """A cohort id becomes a file name: letters, digits, '_' and '-' only."""
    if not SAFE_ID.match(str(cohort)):
        raise Her2AtlasError(
            f"cohort id {cohort!r} is not a safe file name", file=file, field="cohorts",
            fix="use 1-64 letters, digits, '_' or '-', starting with a letter or digit",
        )
    return cohort


def expand_geo(manifest: dict, *, geo_base_url: str) -> None:
    """Turn a manifest's ``geo`` section into ordinary file entries and expression defaults.

    Each file gets the GEO-relative path (so a mirror of GEO's tree under a data root is found
    first) and the URL under ``geo_base_url``.
    """
    from . import geo

    spec = manifest["geo"]
    gse, gpl = spec["series"], spec["platform"]
    sha = spec.get("sha256", {})
    matrices = spec.get("matrices") or [f"{gse}_series_matrix.txt.gz"]
    entries = [{"name": name, "path": geo.series_matrix_path(gse, name)} for name in matrices]
    annotation = spec.get("annotation", "annot")
    annot = None
    if annotation != "none":
        annot = (geo.platform_annot_path(gpl) if annotation == "annot"
                 else geo.platform_soft_path(gpl))
        entry = {"name": Path(annot).name, "path": annot}
        if annotation == "annot":  # GEO has no .annot for some platforms: use the SOFT table
            soft = geo.platform_soft_path(gpl)
            entry["fallback"] = {"name": Path(soft).name, "path": soft,
                                 "url": f"{geo_base_url.rstrip('/')}/{soft}"}
        entries.append(entry)
    supplementary = spec.get("expression_file")
    if supplementary:
        entries.append({"name": supplementary["name"],
                        "path": geo.supplementary_path(gse, supplementary["name"])})
    for entry in entries:
        entry["url"] = f"{geo_base_url.rstrip('/')}/{entry['path']}"
        if entry["name"] in sha:
            entry["sha256"] = sha[entry["name"]]
        if supplementary and entry["name"] == supplementary["name"] and supplementary.get(
                "sha256"):
            entry["sha256"] = supplementary["sha256"]
    manifest["files"] = entries + list(manifest.get("files", []))
    expression = manifest.setdefault("expression", {"units": "auto"})
    expression.setdefault("files", matrices)
    expression["platform_annotation"] = Path(annot).name if annot else None


def expand_cbioportal(manifest: dict) -> None:
    """Declare the files a cBioPortal study provides (mirror path ``cbioportal/<study>/…``)."""
    study = manifest["cbioportal"]["study"]
    names = ["data_clinical_patient.txt", "data_clinical_sample.txt", "data_mrna.txt",
             "study.json"]
    entries = [{"name": n, "path": f"cbioportal/{study}/{n}"} for n in names]
    manifest["files"] = entries + list(manifest.get("files", []))
    expression = manifest.setdefault("expression", {"units": "log2"})
    expression.setdefault("files", ["data_mrna.txt"])
    expression.setdefault("gene_column", "Hugo_Symbol")
    expression.setdefault("drop_columns", ["Entrez_Gene_Id"])


def load_manifest(path: str | Path, schema_path: str | Path | None = None, *,
                  geo_base_url: str = "https://ftp.ncbi.nlm.nih.gov") -> dict:
    """Load and validate one cohort manifest.

    Checks beyond the schema (:func:`manifest_problems`): the id matches the file name, every
    file name referenced is declared under ``files``, file paths cannot leave the data roots,
    fields name declared tables, ``expected`` keys are counts the cohort can give, and
    ``units: auto`` is only used for GEO series matrices.

    Parameters
    ----------
    path
        The manifest.
    schema_path
        The manifest schema (default: the one shipped in ``workflow/schemas``).
    geo_base_url
        Root of GEO's tree, for the URLs of ``geo`` cohorts.

    Raises
    ------
    Her2AtlasError
        The first problem, naming the manifest, the key and the fix.
    """
    path = Path(path)
    manifest = load_validated(path, schema_path or default_schema("manifest"))
    expand(manifest, geo_base_url=geo_base_url)
    problems = manifest_problems(manifest, path)
    if problems:
        raise problems[0]
    return manifest


def expand(manifest: dict, *, geo_base_url: str) -> None:
    """Turn a ``geo`` or ``cbioportal`` section into file entries and expression defaults."""
    if manifest["source"]["kind"] == "geo":
        expand_geo(manifest, geo_base_url=geo_base_url)
    elif manifest["source"]["kind"] == "cbioportal":
        expand_cbioportal(manifest)


def manifest_problems(manifest: dict, path: str | Path) -> list[Her2AtlasError]:
    """Every problem a schema-valid (and expanded) manifest has that the schema cannot see."""
    path = Path(path)
    file = str(path)
    problems: list[Her2AtlasError] = []
    try:
        check_cohort_id(manifest["id"], file=file)
    except Her2AtlasError as exc:
        problems.append(exc)
    if manifest["id"] != path.stem:
        problems.append(Her2AtlasError(
            f"id {manifest['id']!r} differs from the file name {path.name!r}", file=file,
            field="id", fix=f"rename the file to {manifest['id']}.yaml or change the id"))
    problems += _file_problems(manifest, file)
    problems += _reference_problems(manifest, file)
    problems += _count_key_problems(manifest, file)
    return problems


def _file_problems(manifest: dict, file: str) -> list[Her2AtlasError]:
    """File names: plain, safe, declared once, and every file used is declared."""
    problems, declared = [], set()
    for entry in manifest["files"]:
        if "/" in entry["name"]:
            problems.append(Her2AtlasError(
                f"file name {entry['name']!r} must not contain '/'", file=file,
                field=f"files.{entry['name']}",
                fix="give a plain file name; the folder belongs in 'path'"))
            continue
        try:
            safe_relative(entry["name"], what="file name")
            if "path" in entry:
                safe_relative(entry["path"], what="path")
        except Her2AtlasError as exc:
            problems.append(Her2AtlasError(exc.message, file=file,
                                           field=f"files.{entry['name']}", fix=exc.fix))
        if entry["name"] in declared:
            problems.append(Her2AtlasError(f"file name {entry['name']!r} is declared twice",
                                           file=file, field="files",
                                           fix="give each file a distinct name"))
        declared.add(entry["name"])
    for name, where in used_files(manifest):
        if name not in declared:
            problems.append(Her2AtlasError(
                f"file {name!r} is used but not declared under 'files'", file=file,
                field=where, fix=f"{did_you_mean(name, declared)}add an entry with name: {name}"))
    return problems


def used_files(manifest: dict) -> list[tuple[str, str]]:
    """(file name, manifest key naming it) for every file the expression and clinical use."""
    used = [(n, "expression.files") for n in manifest["expression"].get("files", [])]
    used += [(t["file"], f"clinical.tables.{k}.file")
             for k, t in manifest.get("clinical", {}).get("tables", {}).items()]
    if manifest["expression"].get("platform_annotation"):
        used.append((manifest["expression"]["platform_annotation"], "geo.annotation"))
    if manifest.get("geo", {}).get("expression_file"):
        used.append((manifest["geo"]["expression_file"]["name"], "geo.expression_file"))
    psc = manifest["expression"].get("probe_sum_correction") or {}
    used += [(s["file"], "expression.probe_sum_correction.sources")
             for s in psc.get("sources", [])]
    return used


def table_names(manifest: dict) -> list[str]:
    """Tables a field may name: the declared ones, ``geo`` and ``expression_samples``."""
    names = list(manifest.get("clinical", {}).get("tables", {}))
    if manifest["source"]["kind"] == "geo":
        names.append("geo")
    return names + ["expression_samples"]


def _reference_problems(manifest: dict, file: str) -> list[Her2AtlasError]:
    """Fields name declared tables; filters name declared fields; units auto only for GEO."""
    problems = []
    clinical_spec = manifest.get("clinical", {})
    tables = table_names(manifest)
    for field, spec in clinical_spec.get("fields", {}).items():
        if "table" in spec and spec["table"] not in tables:
            problems.append(Her2AtlasError(
                f"table {spec['table']!r} is not declared", file=file,
                field=f"clinical.fields.{field}.table",
                fix=f"{did_you_mean(spec['table'], tables)}use one of: {', '.join(tables)} "
                "(or declare it under clinical.tables)"))
    seen: list[str] = []
    for name, spec in clinical_spec.get("tables", {}).items():
        via = spec.get("via")
        if via and via["table"] not in seen:
            problems.append(Her2AtlasError(
                f"via table {via['table']!r} is not declared before {name!r}", file=file,
                field=f"clinical.tables.{name}.via.table",
                fix=f"{did_you_mean(via['table'], seen)}declare the sample → patient table "
                "above this one"))
        seen.append(name)
    fields = clinical_spec.get("fields", {})
    for field in manifest.get("sample_filter", {}) or {}:
        if field not in fields:
            problems.append(Her2AtlasError(
                f"filter on undeclared field {field!r}", file=file, field=f"sample_filter.{field}",
                fix=f"{did_you_mean(field, fields)}declare the field under clinical.fields first"))
    if manifest["source"]["kind"] != "geo" and manifest["expression"].get("units") == "auto":
        problems.append(Her2AtlasError(
            "units: auto is only for GEO series matrices", file=file, field="expression.units",
            fix="declare what the files hold: log2, log2_fpkm, counts, fpkm or tpm"))
    return problems


def _count_key_problems(manifest: dict, file: str) -> list[Her2AtlasError]:
    """Keys of ``expected`` / ``expected_clinical`` are counts the declared fields can give."""
    from .clinical import count_requirements

    need = count_requirements()
    fields = set(manifest.get("clinical", {}).get("fields", {}))
    problems = []
    for section in ("expected", "expected_clinical"):
        for key in manifest.get(section) or {}:
            if key not in need:
                problems.append(Her2AtlasError(
                    f"unknown count {key!r}", file=file, field=f"{section}.{key}",
                    fix=f"{did_you_mean(key, need)}use one of: {', '.join(need)}"))
                continue
            absent = [f for f in need[key] if f not in fields]
            if absent:
                problems.append(Her2AtlasError(
                    f"count {key!r} needs the field(s) {', '.join(absent)}, which are not mapped",
                    file=file, field=f"{section}.{key}",
                    fix=f"map clinical.fields.{absent[0]} or remove {section}.{key}"))
    return problems
