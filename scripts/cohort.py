"""Snakemake job: build the harmonised cohort AnnData and its QC summary."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import json

from her2atlas.atomic import atomic_path, write_text
from her2atlas.cohort import build_cohort, declared_endpoints, qc_summary
from her2atlas.contribution import no_estimate_reason
from her2atlas.manifest import load_manifest
from her2atlas.runtime import from_snakemake
from her2atlas.strata import CohortDesign

with from_snakemake(snakemake) as log:
    manifest = load_manifest(snakemake.input.manifest, snakemake.params.schema,
                             geo_base_url=snakemake.params.geo_base_url)
    fetched = json.loads(open(snakemake.input.fetched, encoding="utf-8").read())
    pam50 = None
    if snakemake.input.get("pam50"):  # config pam50: the fetched centroid table
        record = json.loads(open(snakemake.input.pam50, encoding="utf-8").read())[0]
        pam50 = {**snakemake.params.pam50, "centroids": record["path"], "file": record}
    adata = build_cohort(
        manifest, snakemake.params.raw_dir, manifest_file=snakemake.input.manifest,
        fetched=fetched, on_count_mismatch=snakemake.params.on_count_mismatch, pam50=pam50,
    )
    log.info("%d samples x %d genes; counts %s", adata.n_obs, adata.n_vars, adata.uns["counts"])
    summary = qc_summary(adata)
    # why the cohort gives no estimate (null when it does), shown in the report's cohort table
    summary["no_estimate_reason"] = no_estimate_reason(
        adata.obs, CohortDesign(**snakemake.params.design),
        declared_endpoints(dict(adata.uns["provenance"])), min_events=snakemake.params.min_events)
    if summary["no_estimate_reason"]:
        log.warning("%s contributes no estimate: %s", snakemake.wildcards.cohort,
                    summary["no_estimate_reason"])
    log.info("PAM50 called: %s", summary["pam50_called"])
    with atomic_path(snakemake.output.h5ad) as tmp:
        adata.write_h5ad(tmp)
    write_text(snakemake.output.qc, json.dumps(summary, indent=1) + "\n")
