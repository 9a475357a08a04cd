"""Snakemake job: assemble the signature catalogue from collections and project-defined sets."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import json
from pathlib import Path

from her2atlas.atomic import write_tsv
from her2atlas.runtime import from_snakemake
from her2atlas.signatures import build_catalogue, catalogue_table, write_gmt

with from_snakemake(snakemake) as log:
    fetched = json.loads(open(snakemake.input.fetched, encoding="utf-8").read())
    by_name = {f["name"]: Path(f["path"]) for f in fetched}
    config = snakemake.params.signatures
    paths = {c["id"]: by_name[c["name"]] for c in config.get("collections", [])}
    weight_paths = {w["name"]: by_name[w["file"]["name"]] for w in config.get("weights", [])}
    catalogue = build_catalogue(config, paths, weight_paths)
    table = catalogue_table(catalogue)
    versions = {c["id"]: c.get("version", "") for c in config.get("collections", [])}
    sha = {f["name"]: f["sha256"] for f in fetched}
    versions.update({w["file"]["name"]: w["file"]["name"] for w in config.get("weights", [])})
    ids = {c["id"]: c["name"] for c in config.get("collections", [])}
    ids.update({w["file"]["name"]: w["file"]["name"] for w in config.get("weights", [])})
    table["version"] = [versions.get(s, "project") for s in table["source"]]
    table["sha256"] = [sha.get(ids.get(s, ""), "") for s in table["source"]]
    write_tsv(snakemake.output.table, table)
    write_gmt(catalogue, snakemake.output.gmt)
    log.info("%d signatures", len(catalogue))
