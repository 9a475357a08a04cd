# fetch: bring every declared file into data/raw/ (mirror first, then download), checksummed.
# Params carry what the files are (the manifest and a content signature), never where they are
# found: data_roots, allow_download and cbioportal_url are read from the config by the script, so
# adding a data root or going offline reruns no cohort whose files are already fetched.


rule fetch:
    input:
        manifest=manifest_path,
    output:
        f"{RAW}/{{cohort}}/fetched.json",
    params:
        manifest=lambda w: MANIFESTS[w.cohort],
        dest=lambda w, output: os.path.dirname(output[0]),
        content=lambda w, output: fetch_signature(
            MANIFESTS[w.cohort]["files"], os.path.dirname(output[0])),
        context=manifest_path,
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
        content=lambda w, output: fetch_signature(SIGNATURE_FILES, os.path.dirname(output[0])),
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
