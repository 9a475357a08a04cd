"""Snakemake job: random-signature null (empirical p per signature, method and endpoint)."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import anndata as ad

from her2atlas.atomic import write_tsv
from her2atlas.cohort import declared_endpoints, plain
from her2atlas.null import COLUMNS, random_signature_null
from her2atlas.runtime import from_snakemake
from her2atlas.signatures import read_catalogue

with from_snakemake(snakemake) as log:
    adata = ad.read_h5ad(snakemake.input.cohort)
    provenance = plain(dict(adata.uns["provenance"]))
    endpoints = declared_endpoints(provenance)
    if snakemake.params.n_random > 0:
        table = random_signature_null(
            adata, read_catalogue(snakemake.input.catalogue), cohort=snakemake.wildcards.cohort,
            design=provenance["design"], endpoints=endpoints, methods=snakemake.params.methods,
            n_random=snakemake.params.n_random, seed=snakemake.params.seed,
            bins=snakemake.params.bins, min_events=snakemake.params.min_events,
            alpha=snakemake.params.alpha)
    else:
        import pandas as pd
        table = pd.DataFrame(columns=COLUMNS)
        log.info("random-signature null switched off (scoring.random_null.n_random = 0)")
    log.info("%d null rows", len(table))
    write_tsv(snakemake.output[0], table)
