"""Snakemake job: response and survival association tables for one cohort."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import anndata as ad
import pandas as pd

from her2atlas.association import Settings, associate_cohort
from her2atlas.atomic import write_tsv
from her2atlas.cohort import declared_endpoints
from her2atlas.runtime import from_snakemake
from her2atlas.signatures import read_catalogue
from her2atlas.strata import CohortDesign

with from_snakemake(snakemake) as log:
    adata = ad.read_h5ad(snakemake.input.cohort, backed="r")
    provenance = adata.uns["provenance"]
    endpoints = declared_endpoints(dict(provenance))
    scores = pd.read_csv(snakemake.input.scores, sep="\t")
    roles = {s.name: s.role for s in read_catalogue(snakemake.input.catalogue)}
    response, survival = associate_cohort(
        adata.obs.copy(), scores, cohort=snakemake.wildcards.cohort,
        design=CohortDesign(**snakemake.params.design), endpoints=endpoints, roles=roles,
        settings=Settings.from_config(snakemake.params.settings),
        primary=snakemake.params.primary,
    )
    log.info("%d response rows, %d survival rows", len(response), len(survival))
    write_tsv(snakemake.output.response, response)
    write_tsv(snakemake.output.survival, survival)
