# fetch: bring every declared file into data/raw/ (mirror first, then download), checksummed.


rule fetch:
    input:
        manifest=manifest_path,
    output:
        f"{RAW}/{{cohort}}/fetched.json",
    params:
        manifest=lambda w: MANIFESTS[w.cohort],
        cbioportal_url=config.get("cbioportal_url", "https://www.cbioportal.org"),
        dest=lambda w, output: os.path.dirname(output[0]),
        data_roots=DATA_ROOTS,
        allow_download=ALLOW_DOWNLOAD,
        context=lambda w: f"{MANIFEST_DIR}/{w.cohort}.yaml",
    localrule: True
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    log:
        "logs/fetch/{cohort}.log",
    benchmark:
        "logs/benchmarks/fetch/{cohort}.tsv"
    script:
        "../../scripts/fetch.py"


rule fetch_signatures:
    output:
        f"{RAW}/_signatures/fetched.json",
    params:
        entries=SIGNATURE_FILES,
        dest=lambda w, output: os.path.dirname(output[0]),
        data_roots=DATA_ROOTS,
        allow_download=ALLOW_DOWNLOAD,
        context="config.yaml: signatures.collections",
    localrule: True
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    log:
        "logs/fetch/_signatures.log",
    benchmark:
        "logs/benchmarks/fetch/_signatures.tsv"
    script:
        "../../scripts/fetch.py"
