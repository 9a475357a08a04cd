"""Snakemake job: bring a cohort's (or the signature catalogue's) files into data/raw/."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import json

from her2atlas.atomic import write_text
from her2atlas.fetch import fetch_all, fetch_cohort
from her2atlas.runtime import from_snakemake

# Where to look is config, not params: it must not make a finished fetch look changed (the
# params' `content` signature decides that; see workflow/rules/fetch.smk).
config = snakemake.config
where = {"data_roots": config.get("data_roots", []),
         "allow_download": config.get("allow_download", True)}

with from_snakemake(snakemake) as log:
    manifest = snakemake.params.get("manifest")
    if manifest:  # a cohort: any source kind
        records = fetch_cohort(
            manifest, snakemake.params.dest, context=snakemake.params.context,
            cbioportal_url=config.get("cbioportal_url", "https://www.cbioportal.org"), **where,
        )
    else:  # the signature catalogue's files
        records = fetch_all(snakemake.params.entries, snakemake.params.dest,
                            context=snakemake.params.context, **where)
    for record in records:
        log.info("%s  %s  from %s", record["sha256"][:12], record["name"], record["source"])
    write_text(snakemake.output[0], json.dumps(records, indent=2) + "\n")
