# her2atlas — entry point: load and validate the config, include one rule file per stage.
# Run:  snakemake --cores all                          (the analysis in config.yaml)
#       snakemake --cores 2 --configfile demo/config.yaml   (the synthetic demo; `make demo`)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/check.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/associate.smk"
include: "workflow/rules/overlap.smk"
include: "workflow/rules/meta.smk"
include: "workflow/rules/genes.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        f"{RESULTS}/report/index.html",
        [f"{RESULTS}/genes/{signature}.tsv" for signature in GENE_SIGNATURES],
        expand(f"{RESULTS}/genes/leading_edge/{{cohort}}.tsv", cohort=COHORTS),
    default_target: True
