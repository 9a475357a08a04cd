# associate: design-aware response and survival models within HER2+ samples of one cohort.


rule associate:
    input:
        cohort=f"{RESULTS}/cohorts/{{cohort}}.h5ad",
        scores=f"{RESULTS}/scores/{{cohort}}.tsv",
        catalogue=f"{RESULTS}/signatures/catalogue.tsv",
    output:
        response=report(
            f"{RESULTS}/stats/{{cohort}}/response.tsv",
            caption="../report/stats.rst",
            category="Per-cohort statistics",
            labels={"cohort": "{cohort}", "table": "pCR"},
        ),
        survival=report(
            f"{RESULTS}/stats/{{cohort}}/survival.tsv",
            caption="../report/stats.rst",
            category="Per-cohort statistics",
            labels={"cohort": "{cohort}", "table": "survival"},
        ),
    params:
        settings=config["association"],
        design=cohort_design,
        primary=config.get("primary"),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "logs/associate/{cohort}.log",
    benchmark:
        "logs/benchmarks/associate/{cohort}.tsv"
    script:
        "../../scripts/associate.py"
