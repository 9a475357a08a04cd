# meta: DerSimonian-Laird random-effects pooling of per-cohort effects.


rule meta:
    input:
        response=expand("results/stats/{cohort}/response.tsv", cohort=COHORTS),
        survival=expand("results/stats/{cohort}/survival.tsv", cohort=COHORTS),
    output:
        response=report(
            "results/meta/response.tsv",
            caption="../report/meta.rst",
            category="Meta-analysis",
            labels={"table": "pCR"},
        ),
        survival=report(
            "results/meta/survival.tsv",
            caption="../report/meta.rst",
            category="Meta-analysis",
            labels={"table": "survival"},
        ),
    params:
        min_cohorts=config["meta"].get("min_cohorts", 2),
        fdr_family=config["meta"].get("fdr_family", ["endpoint", "model"]),
        hksj_below=config["meta"].get("hksj_below", 5),
        primary=config.get("primary"),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "logs/meta.log",
    benchmark:
        "logs/benchmarks/meta.tsv"
    script:
        "../../scripts/meta.py"
