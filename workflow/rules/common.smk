# Shared set-up: validate config and manifests once, define paths and input functions.
import os
import sys
from pathlib import Path

from her2atlas.errors import Her2AtlasError
from her2atlas.fetch import content_signature
from her2atlas.manifest import check_cohort_id, load_manifest
from her2atlas.overlap import check_manifests
from her2atlas.references import manifest_file
from her2atlas.strata import CohortDesign
from her2atlas.validation import validate

SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"
CONFIG_SCHEMA = str(SCHEMAS / "config.schema.yaml")
MANIFEST_SCHEMA = str(SCHEMAS / "manifest.schema.yaml")

try:
    validate(config, CONFIG_SCHEMA, file="config.yaml (with any --configfile/--config)")
    COHORTS = [check_cohort_id(c) for c in config["cohorts"]]
    # manifests_dir: one folder or a list searched in order (private manifests outside the repo)
    MANIFEST_FILES = {c: str(manifest_file(config, c)) for c in COHORTS}
    GEO_BASE_URL = config.get("geo_base_url", "https://ftp.ncbi.nlm.nih.gov")
    MANIFESTS = {
        c: load_manifest(MANIFEST_FILES[c], MANIFEST_SCHEMA, geo_base_url=GEO_BASE_URL)
        for c in COHORTS
    }
    check_manifests(MANIFESTS)
except Her2AtlasError as exc:
    sys.exit(f"her2atlas: configuration error\n{exc}")

# Every output lives under RESULTS (config `results_dir`), so the demo and a real run never share
# report pages.
RESULTS = config.get("results_dir", "results")
RAW = config.get("raw_dir", "data/raw")
DATA_ROOTS = config.get("data_roots", [])
SIGNATURE_NAMES = (
    [s.get("name", s["set"]) for s in config["signatures"].get("select", [])]
    + [s["name"] for s in config["signatures"].get("custom", [])]
    + [s["name"] for s in config["signatures"].get("weights", [])]
)
# Every file the signature catalogue needs: GMT collections and weight tables.
SIGNATURE_FILES = [
    {k: v for k, v in c.items() if k in ("name", "path", "url", "sha256")}
    for c in config["signatures"].get("collections", [])
] + [w["file"] for w in config["signatures"].get("weights", [])]
NULL = config["scoring"].get("random_null", {})


def manifest_path(wildcards):
    return MANIFEST_FILES[wildcards.cohort]


def fetch_signature(entries, dest):
    """The content of the files a fetch job brings into ``dest`` (not where they are found)."""
    return content_signature(entries, dest, data_roots=DATA_ROOTS)


wildcard_constraints:
    cohort="[A-Za-z0-9][A-Za-z0-9_-]*",


def cohort_design(wildcards):
    """The manifest's design facts the association stage needs (era, arms, subset parent)."""
    d = CohortDesign.from_manifest(MANIFESTS[wildcards.cohort], COHORTS)
    return {"design": d.design, "era": d.era, "reference_arm": d.reference_arm,
            "trastuzumab_arms": d.trastuzumab_arms, "parent": d.parent}
