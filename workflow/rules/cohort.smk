# cohort: harmonise expression + clinical into results/cohorts/{cohort}.h5ad (counts checked),
# one row per patient (manifest `replicates`), PAM50 called from expression (config `pam50`).

PAM50 = config.get("pam50")
PAM50_FETCHED = f"{RAW}/_pam50/fetched.json"


rule fetch_pam50:
    output:
        PAM50_FETCHED,
    params:
        entries=[PAM50["centroids"]] if PAM50 else [],
        dest=lambda w, output: os.path.dirname(output[0]),
        content=lambda w, output: fetch_signature(
            [PAM50["centroids"]] if PAM50 else [], os.path.dirname(output[0])),
        context="config.yaml: pam50.centroids",
    localrule: True
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    log:
        "logs/fetch/_pam50.log",
    benchmark:
        "logs/benchmarks/fetch/_pam50.tsv"
    script:
        "../../scripts/fetch.py"


rule cohort:
    input:
        manifest=manifest_path,
        fetched=f"{RAW}/{{cohort}}/fetched.json",
        pam50=PAM50_FETCHED if PAM50 else [],
    output:
        h5ad=f"{RESULTS}/cohorts/{{cohort}}.h5ad",
        qc=f"{RESULTS}/qc/{{cohort}}.json",
    params:
        schema=MANIFEST_SCHEMA,
        geo_base_url=GEO_BASE_URL,
        raw_dir=lambda w: f"{RAW}/{w.cohort}",
        on_count_mismatch=config.get("on_count_mismatch", "error"),
        pam50={k: v for k, v in (PAM50 or {}).items() if k != "centroids"},
        # for the QC record's no_estimate_reason (the association stage's subgroups and floor)
        design=cohort_design,
        min_events=config["association"].get("min_events", 5),
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
