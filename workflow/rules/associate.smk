# associate: design-aware response and survival models within HER2+ samples of one cohort.


rule associate:
    input:
        cohort="results/cohorts/{cohort}.h5ad",
        scores="results/scores/{cohort}.tsv",
        catalogue="results/signatures/catalogue.tsv",
    output:
        response="results/stats/{cohort}/response.tsv",
        survival="results/stats/{cohort}/survival.tsv",
    params:
        min_events=config["association"].get("min_events", 5),
        fdr_family=config["association"].get("fdr_family", ["subgroup", "endpoint", "model"]),
    log:
        "logs/associate/{cohort}.log",
    benchmark:
        "logs/benchmarks/associate/{cohort}.tsv"
    script:
        "../../scripts/associate.py"
