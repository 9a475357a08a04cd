# report: self-contained HTML (index + one page per cohort and per signature).


rule report:
    input:
        qc=expand("results/qc/{cohort}.json", cohort=COHORTS),
        cohorts=expand("results/cohorts/{cohort}.h5ad", cohort=COHORTS),
        scores=expand("results/scores/{cohort}.tsv", cohort=COHORTS),
        coverage=expand("results/scores/{cohort}.coverage.tsv", cohort=COHORTS),
        score_qc=expand("results/scores/{cohort}.json", cohort=COHORTS),
        concordance=expand("results/scores/{cohort}.concordance.tsv", cohort=COHORTS),
        null=expand("results/null/{cohort}.tsv", cohort=COHORTS),
        response=expand("results/stats/{cohort}/response.tsv", cohort=COHORTS),
        survival=expand("results/stats/{cohort}/survival.tsv", cohort=COHORTS),
        meta_response="results/meta/response.tsv",
        meta_survival="results/meta/survival.tsv",
        catalogue="results/signatures/catalogue.tsv",
        genes=[f"results/genes/{signature}.tsv" for signature in GENE_SIGNATURES],
    output:
        index=report(
            "results/report/index.html",
            caption="../report/index.rst",
            category="Report",
            labels={"page": "index"},
        ),
        figures=report(
            directory("results/report/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
        tables=directory("results/report/tables"),
        cohorts=expand("results/report/cohort_{cohort}.html", cohort=COHORTS),
        signatures=expand("results/report/signature_{signature}.html", signature=SIGNATURE_NAMES),
    params:
        cohorts=COHORTS,
        config=config,
        title=config.get("report", {}).get("title", "her2atlas report"),
        primary=config.get("primary"),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 2  # figures render in parallel processes
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    script:
        "../../scripts/report.py"
