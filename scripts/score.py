"""Snakemake job: score every signature in one cohort."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import json

import anndata as ad
import numpy as np

from her2atlas.atomic import atomic_path, write_text, write_tsv
from her2atlas.runtime import from_snakemake
from her2atlas.scoring import concordance, score_cohort_qc
from her2atlas.signatures import read_catalogue

with from_snakemake(snakemake) as log:
    adata = ad.read_h5ad(snakemake.input.cohort)
    shared: dict = {}
    scores, coverage, qc = score_cohort_qc(
        adata, read_catalogue(snakemake.input.catalogue), methods=snakemake.params.methods,
        min_coverage=snakemake.params.min_coverage, min_genes=snakemake.params.min_genes,
        alpha=snakemake.params.alpha, gsva_kernel=snakemake.params.gsva_kernel, shared=shared,
    )
    # the GSVA density for the leading-edge step (a temporary file; empty without GSVA)
    with atomic_path(snakemake.output.gsva_density) as tmp, open(tmp, "wb") as handle:
        np.save(handle, shared.get("gsva_density", np.empty((0, 0))))
    for row in coverage.itertuples():
        log.info("%-40s %4d/%-4d %s", row.signature, row.genes_used, row.genes_in_set,
                 row.reason or "scored")
    if qc["gsva"] is not None:
        log.info("GSVA (%s kernel on %s): %d of %d genes constant across samples, dropped",
                 qc["gsva"]["kernel"], qc["gsva"]["input"], qc["gsva"]["constant_genes_dropped"],
                 qc["gsva"]["genes"])
    write_tsv(snakemake.output.scores, scores)
    write_text(snakemake.output.qc, json.dumps(qc, indent=1) + "\n")
    write_tsv(snakemake.output.coverage, coverage)
    write_tsv(snakemake.output.concordance,
              concordance(scores, cohort=snakemake.wildcards.cohort))
