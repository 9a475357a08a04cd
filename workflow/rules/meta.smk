# meta: random-effects pooling of per-cohort effects within one evidence stratum (question x era
# x endpoint family); DL tau2 with the Hartung-Knapp-Sidik-Jonkman interval at every k.


rule meta:
    input:
        response=expand(f"{RESULTS}/stats/{{cohort}}/response.tsv", cohort=COHORTS),
        survival=expand(f"{RESULTS}/stats/{{cohort}}/survival.tsv", cohort=COHORTS),
        # one patient counts once: no pooling until no two cohorts share samples or patients
        overlap=f"{RESULTS}/qc/overlap.tsv",
    output:
        response=report(
            f"{RESULTS}/meta/response.tsv",
            caption="../report/meta.rst",
            category="Meta-analysis",
            labels={"table": "pCR"},
        ),
        survival=report(
            f"{RESULTS}/meta/survival.tsv",
            caption="../report/meta.rst",
            category="Meta-analysis",
            labels={"table": "survival"},
        ),
        comparison=f"{RESULTS}/meta/model_comparison.tsv",
    params:
        min_cohorts=config["meta"].get("min_cohorts", 2),
        endpoint_families=config["meta"].get("endpoint_families", {}),
        fdr_family=config["meta"].get("fdr_family", ["question", "era", "endpoint", "model"]),
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
