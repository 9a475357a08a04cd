# genes: the genes behind each association. Per cohort, every gene of the hypothesis signatures
# in the unadjusted logistic / Cox models of the score (same subgroups and strata), and the
# ssGSEA / GSVA leading edges; across cohorts, per-gene pooling (meta.pool) and leading genes.

GENE_ROLES = ("hypothesis", "demo")
GENE_SIGNATURES = [
    s.get("name", s.get("set"))
    for kind in ("select", "custom", "weights")
    for s in config["signatures"].get(kind, [])
    if s.get("role", "hypothesis") in GENE_ROLES
]
# weight signatures (mRNAsi, ~13,000 weights): the genes of largest |weight| only
GENE_MAX_WEIGHT_GENES = 500


rule genes_cohort:
    input:
        cohort=f"{RESULTS}/cohorts/{{cohort}}.h5ad",
        catalogue=f"{RESULTS}/signatures/catalogue.tsv",
        scores=f"{RESULTS}/scores/{{cohort}}.tsv",
        gsva_density=f"{RESULTS}/scores/{{cohort}}.gsva_density.npy",
    output:
        effects=f"{RESULTS}/genes/cohorts/{{cohort}}.tsv",
        leading_edge=f"{RESULTS}/genes/leading_edge/{{cohort}}.tsv",
    params:
        settings=config["association"],
        design=cohort_design,
        max_weight_genes=GENE_MAX_WEIGHT_GENES,
        methods=config["scoring"]["methods"],
        alpha=config["scoring"].get("ssgsea_alpha", 0.25),
        gsva_kernel=config["scoring"].get("gsva_kernel", "auto"),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    log:
        "logs/genes/{cohort}.log",
    benchmark:
        "logs/benchmarks/genes/{cohort}.tsv"
    script:
        "../../scripts/genes.py"


rule genes:
    input:
        cohorts=expand(rules.genes_cohort.output.effects, cohort=COHORTS),
        meta_response=f"{RESULTS}/meta/response.tsv",
        meta_survival=f"{RESULTS}/meta/survival.tsv",
    output:
        [f"{RESULTS}/genes/{signature}.tsv" for signature in GENE_SIGNATURES],
    params:
        signatures=GENE_SIGNATURES,
        min_cohorts=config["meta"].get("min_cohorts", 2),
        endpoint_families=config["meta"].get("endpoint_families", {}),
    conda:
        "../../envs/her2atlas.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "logs/genes/pooled.log",
    benchmark:
        "logs/benchmarks/genes/pooled.tsv"
    script:
        "../../scripts/genes.py"
