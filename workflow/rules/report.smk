# report: self-contained HTML (index + one page per cohort and per signature).


rule report:
    input:
        qc=expand(f"{RESULTS}/qc/{{cohort}}.json", cohort=COHORTS),
        cohorts=expand(f"{RESULTS}/cohorts/{{cohort}}.h5ad", cohort=COHORTS),
        scores=expand(f"{RESULTS}/scores/{{cohort}}.tsv", cohort=COHORTS),
        coverage=expand(f"{RESULTS}/scores/{{cohort}}.coverage.tsv", cohort=COHORTS),
        score_qc=expand(f"{RESULTS}/scores/{{cohort}}.json", cohort=COHORTS),
        concordance=expand(f"{RESULTS}/scores/{{cohort}}.concordance.tsv", cohort=COHORTS),
        null=expand(f"{RESULTS}/null/{{cohort}}.tsv", cohort=COHORTS),
        response=expand(f"{RESULTS}/stats/{{cohort}}/response.tsv", cohort=COHORTS),
        survival=expand(f"{RESULTS}/stats/{{cohort}}/survival.tsv", cohort=COHORTS),
        meta_response=f"{RESULTS}/meta/response.tsv",
        meta_survival=f"{RESULTS}/meta/survival.tsv",
        catalogue=f"{RESULTS}/signatures/catalogue.tsv",
        genes=[f"{RESULTS}/genes/{signature}.tsv" for signature in GENE_SIGNATURES],
    output:
        index=report(
            f"{RESULTS}/report/index.html",
            caption="../report/index.rst",
            category="Report",
            labels={"page": "index"},
        ),
        figures=report(
            directory(f"{RESULTS}/report/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
        tables=directory(f"{RESULTS}/report/tables"),
        cohorts=expand(f"{RESULTS}/report/cohort_{{cohort}}.html", cohort=COHORTS),
        signatures=expand(f"{RESULTS}/report/signature_{{signature}}.html", signature=SIGNATURE_NAMES),
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
