"""Snakemake job: stop when two configured cohorts share samples or patients."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import anndata as ad

from her2atlas.atomic import write_tsv
from her2atlas.overlap import check_samples
from her2atlas.runtime import from_snakemake

with from_snakemake(snakemake) as log:
    obs = {cohort: ad.read_h5ad(path, backed="r").obs.copy()
           for cohort, path in zip(snakemake.params.cohorts, snakemake.input.cohorts,
                                   strict=True)}
    manifests = {c: {"subset_of": parent} for c, parent in snakemake.params.subsets.items()}
    table = check_samples(obs, manifests)
    log.info("%d cohort pairs checked; none shares undeclared samples or patients", len(table))
    write_tsv(snakemake.output[0], table)
