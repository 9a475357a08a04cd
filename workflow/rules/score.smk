# score: the signature catalogue, then per-cohort scores in long format with coverage and a
# scoring QC record (results/scores/{cohort}.json).


rule signatures:
    input:
        fetched=f"{RAW}/_signatures/fetched.json",
    output:
        table=f"{RESULTS}/signatures/catalogue.tsv",
        gmt=f"{RESULTS}/signatures/catalogue.gmt",
    params:
        signatures={
            k: v
            for k, v in config["signatures"].items()
            if k in ("collections", "select", "custom", "weights")
        },
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        "logs/signatures.log",
    benchmark:
        "logs/benchmarks/signatures.tsv"
    script:
        "../../scripts/signatures.py"


rule score:
    input:
        cohort=f"{RESULTS}/cohorts/{{cohort}}.h5ad",
        catalogue=f"{RESULTS}/signatures/catalogue.tsv",
    output:
        scores=f"{RESULTS}/scores/{{cohort}}.tsv",
        coverage=f"{RESULTS}/scores/{{cohort}}.coverage.tsv",
        concordance=f"{RESULTS}/scores/{{cohort}}.concordance.tsv",
        # scoring QC: genes GSVA dropped as constant, sets combined_z was produced for
        qc=f"{RESULTS}/scores/{{cohort}}.json",
        # GSVA density, reused by genes_cohort's leading edges (removed once that has run)
        gsva_density=temp(f"{RESULTS}/scores/{{cohort}}.gsva_density.npy"),
    params:
        methods=config["scoring"]["methods"],
        alpha=config["scoring"].get("ssgsea_alpha", 0.25),
        gsva_kernel=config["scoring"].get("gsva_kernel", "auto"),
        min_coverage=config["signatures"]["min_coverage"],
        min_genes=config["signatures"].get("min_genes", 3),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/score/{cohort}.log",
    benchmark:
        "logs/benchmarks/score/{cohort}.tsv"
    script:
        "../../scripts/score.py"


rule null:
    input:
        cohort=f"{RESULTS}/cohorts/{{cohort}}.h5ad",
        catalogue=f"{RESULTS}/signatures/catalogue.tsv",
    output:
        report(
            f"{RESULTS}/null/{{cohort}}.tsv",
            caption="../report/null.rst",
            category="Random-signature null",
            labels={"cohort": "{cohort}"},
        ),
    params:
        methods=config["scoring"]["methods"],
        alpha=config["scoring"].get("ssgsea_alpha", 0.25),
        n_random=NULL.get("n_random", 1000),
        bins=NULL.get("bins", 20),
        seed=config.get("seed", 0),
        min_events=config["association"].get("min_events", 5),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/null/{cohort}.log",
    benchmark:
        "logs/benchmarks/null/{cohort}.tsv"
    script:
        "../../scripts/null.py"
