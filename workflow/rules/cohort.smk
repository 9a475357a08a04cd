# cohort: harmonise expression + clinical into results/cohorts/{cohort}.h5ad (counts checked).


rule cohort:
    input:
        manifest=manifest_path,
        fetched=f"{RAW}/{{cohort}}/fetched.json",
    output:
        h5ad="results/cohorts/{cohort}.h5ad",
        qc="results/qc/{cohort}.json",
    params:
        schema=MANIFEST_SCHEMA,
        geo_base_url=GEO_BASE_URL,
        raw_dir=lambda w: f"{RAW}/{w.cohort}",
        on_count_mismatch=config.get("on_count_mismatch", "error"),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "logs/cohort/{cohort}.log",
    benchmark:
        "logs/benchmarks/cohort/{cohort}.tsv"
    script:
        "../../scripts/cohort.py"
