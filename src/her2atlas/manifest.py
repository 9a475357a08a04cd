"""Cohort manifests: load, validate against the schema, and check what the schema cannot."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import Her2AtlasError
from .fetch import safe_relative
from .validation import load_validated

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


def load_manifest(path: str | Path, schema_path: str | Path, *,
                  geo_base_url: str = "https://ftp.ncbi.nlm.nih.gov") -> dict:
    """Load and validate one cohort manifest.

    Checks beyond the schema: the id matches the file name, every file name referenced by the
    expression and clinical sections is declared under ``files``, and file paths cannot leave
    the data roots.

    Raises
    ------
    Her2AtlasError
        Naming the manifest, the key and the fix.
    """
    path = Path(path)
    manifest = load_validated(path, schema_path)
    file = str(path)
    if manifest["source"]["kind"] == "geo":
        expand_geo(manifest, geo_base_url=geo_base_url)
    elif manifest["source"]["kind"] == "cbioportal":
        expand_cbioportal(manifest)
    check_cohort_id(manifest["id"], file=file)
    if manifest["id"] != path.stem:
        raise Her2AtlasError(
            f"id {manifest['id']!r} differs from the file name {path.name!r}", file=file,
            field="id", fix=f"rename the file to {manifest['id']}.yaml or change the id",
        )
    declared = set()
    for entry in manifest["files"]:
        if "/" in entry["name"]:
            raise Her2AtlasError(
                f"file name {entry['name']!r} must not contain '/'", file=file,
                field=f"files.{entry['name']}",
                fix="give a plain file name; the folder belongs in 'path'")
        try:
            safe_relative(entry["name"], what="file name")
            if "path" in entry:
                safe_relative(entry["path"], what="path")
        except Her2AtlasError as exc:
            raise Her2AtlasError(exc.message, file=file, field=f"files.{entry['name']}",
                                 fix=exc.fix) from None
        if entry["name"] in declared:
            raise Her2AtlasError(f"file name {entry['name']!r} is declared twice", file=file,
                                 field="files", fix="give each file a distinct name")
        declared.add(entry["name"])
    used = list(manifest["expression"].get("files", []))
    used += [t["file"] for t in manifest.get("clinical", {}).get("tables", {}).values()]
    if manifest["expression"].get("platform_annotation"):
        used.append(manifest["expression"]["platform_annotation"])
    if manifest.get("geo", {}).get("expression_file"):
        used.append(manifest["geo"]["expression_file"]["name"])
    psc = manifest["expression"].get("probe_sum_correction") or {}
    used += [s["file"] for s in psc.get("sources", [])]
    for name in used:
        if name not in declared:
            raise Her2AtlasError(
                f"file {name!r} is used but not declared under 'files'", file=file,
                field="files", fix=f"add an entry with name: {name}",
            )
    return manifest
