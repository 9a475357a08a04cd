# overlap: one patient counts once. Stops the run (before the meta-analysis) when two configured
# cohorts share sample or patient ids and neither is a declared subset of the other.


rule overlap:
    input:
        cohorts=expand(f"{RESULTS}/cohorts/{{cohort}}.h5ad", cohort=COHORTS),
    output:
        f"{RESULTS}/qc/overlap.tsv",
    params:
        cohorts=COHORTS,
        subsets={c: MANIFESTS[c].get("subset_of") for c in COHORTS},
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        "logs/overlap.log",
    benchmark:
        "logs/benchmarks/overlap.tsv"
    script:
        "../../scripts/overlap.py"
