# check: before any job runs, the config's references (primary, adjust_controls, cohorts) and
# every cohort's manifest and data files (mirror or cache: headers and clinical tables only) are
# checked; every problem is printed in one table and kept in <results_dir>/qc/data_check.tsv.
# Config `check_data: false` skips the data part. `her2atlas check-manifest --data` is the same
# check from the command line.
import sys
from pathlib import Path

from her2atlas.errors import Her2AtlasError
from her2atlas.manifest_check import check_cohorts, errors, format_table, write_tsv
from her2atlas.references import check_config, manifest_file

DATA_CHECK = f"{config.get('results_dir', 'results')}/qc/data_check.tsv"

# In the order snakemake merges them: the Snakefile's configfile, then each --configfile.
_CLI_CONFIGS = [str(f) for f in workflow.overwrite_configfiles or []]
CONFIG_FILES = [str(f) for f in workflow.configfiles if str(f) not in _CLI_CONFIGS] + _CLI_CONFIGS

try:
    check_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
                 config_files=CONFIG_FILES)
except Her2AtlasError as exc:
    sys.exit(f"her2atlas: configuration error\n{exc}")

# Linting reads the rules only: it needs no data (snakemake gives the Snakefile no lint flag).
_LINTING = "--lint" in sys.argv

if config.get("check_data", True) and workflow.is_main_process and not _LINTING:  # once, not per job
    _findings = check_cohorts(
        {c: manifest_file(config, c) for c in config["cohorts"]}, data=True,
        data_roots=config.get("data_roots", []), raw_dir=config.get("raw_dir", "data/raw"),
        allow_download=config.get("allow_download", True),
        geo_base_url=config.get("geo_base_url", "https://ftp.ncbi.nlm.nih.gov"))
    write_tsv(_findings, DATA_CHECK)
    if errors(_findings):
        sys.exit("her2atlas: the manifests or data files have problems (all listed; also in "
                 f"{DATA_CHECK}):\n{format_table(_findings)}")
    if _findings:  # notes only: files that are checked once downloaded
        _cohorts = sorted({f.cohort for f in _findings})
        print(f"her2atlas: {len(_findings)} file(s) of {len(_cohorts)} cohort(s) are not local "
              f"yet and are checked when the cohort is built (listed in {DATA_CHECK})",
              file=sys.stderr)
