"""Check the config's references before any job: every problem, each naming the file that holds it.

The schema checks shapes; this module checks that names point at something: the ``primary``
hypothesis (signature, method, endpoint, model), ``association.adjust_controls`` and the
``cohorts`` (a manifest for each, with did-you-mean). Snakemake merges ``config.yaml`` and every
``--configfile``; a problem is attributed to the last file that sets its key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .clinical import ENDPOINTS
from .errors import Her2AtlasError, did_you_mean, one_of
from .validation import load_yaml, schema_problems

#: Models of the within-trastuzumab rows that a primary hypothesis can name, by outcome.
RESPONSE_MODELS = ("logistic", "logistic_adj", "logistic_adj_controls", "auc")
SURVIVAL_MODELS = ("cox", "cox_adj", "cox_adj_controls")


def _has(doc: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return False
        doc = doc[key]
    return True


def config_source(field: str, config_files: list[str | Path]) -> str:
    """The config file that sets ``field`` (dotted): the last one holding it, as snakemake merges.

    When no file holds it (``--config`` on the command line, or a missing key) all files are
    named.
    """
    keys = [k for k in field.split(".") if k and not k.startswith("[")]
    keys = [k.split("[")[0] for k in keys]
    for file in reversed([str(f) for f in config_files]):
        try:
            if keys and _has(load_yaml(file), keys):
                return file
        except Her2AtlasError:
            continue
    files = ", ".join(str(f) for f in config_files) or "config.yaml"
    return f"{files} (or --config)"


def signature_names(config: dict) -> list[str]:
    """Names of every signature the catalogue will hold (select, custom, weights)."""
    sig = config.get("signatures", {})
    return ([s.get("name", s["set"]) for s in sig.get("select", [])]
            + [s["name"] for s in sig.get("custom", [])]
            + [s["name"] for s in sig.get("weights", [])])


def primary_models(config: dict, endpoint: str) -> list[str]:
    """Models the run fits for ``endpoint`` under this config (what ``primary.model`` may be)."""
    assoc = config.get("association", {})
    if endpoint == "pcr":
        family, extra = RESPONSE_MODELS, []
    else:
        family, extra = SURVIVAL_MODELS, [f"logrank_{assoc.get('survival_split', 'median')}"]
    models = [m for m in family
              if not (m.endswith("_adj") and not assoc.get("adjust_for", ["er_status"]))
              and not (m.endswith("_adj_controls") and not assoc.get("adjust_controls"))]
    return models + extra


def _problem(field: str, message: str, fix: str, files) -> Her2AtlasError:
    return Her2AtlasError(message, file=config_source(field, files), field=field, fix=fix)


def primary_problems(config: dict, config_files) -> list[Her2AtlasError]:
    """``primary`` names a configured signature, method, endpoint and a model the run fits."""
    primary = config.get("primary")
    if not primary:
        return []
    names = signature_names(config)
    methods = config.get("scoring", {}).get("methods", [])
    endpoints = ["pcr", *ENDPOINTS]
    checks = [("signature", names, "signatures.select / custom / weights"),
              ("method", methods, "scoring.methods"), ("endpoint", endpoints, "the endpoints")]
    problems = []
    for key, allowed, where in checks:
        if primary[key] not in allowed:
            problems.append(_problem(
                f"primary.{key}", f"{key} {primary[key]!r} is not in {where}",
                f"{did_you_mean(primary[key], allowed)}use one of: {one_of(allowed)}",
                config_files))
    if primary["endpoint"] in endpoints:
        models = primary_models(config, primary["endpoint"])
        if primary["model"] not in models:
            problems.append(_problem(
                "primary.model",
                f"model {primary['model']!r} is not fitted for endpoint {primary['endpoint']!r}"
                " with this config", f"{did_you_mean(primary['model'], models)}use one of: "
                f"{one_of(models)}", config_files))
    return problems


def control_problems(config: dict, config_files) -> list[Her2AtlasError]:
    """Every ``association.adjust_controls`` name is a signature of the catalogue."""
    names = signature_names(config)
    return [_problem("association.adjust_controls", f"control signature {name!r} is not in the "
                     "catalogue", f"{did_you_mean(name, names)}use one of: {one_of(names)}",
                     config_files)
            for name in config.get("association", {}).get("adjust_controls", [])
            if name not in names]


def manifest_dirs(config: dict) -> list[Path]:
    """The folders searched for cohort manifests (``manifests_dir``: one folder or a list)."""
    dirs = config.get("manifests_dir", "workflow/cohorts")
    return [Path(d) for d in ([dirs] if isinstance(dirs, str) else dirs)]


def manifest_file(config: dict, cohort: str) -> Path:
    """The manifest of ``cohort``: ``<dir>/<cohort>.yaml`` in the first ``manifests_dir`` holding it.

    Parameters
    ----------
    config
        The merged workflow config (``manifests_dir``: one folder or a list, searched in order).
    cohort
        A cohort id.

    Returns
    -------
    Path
        The first existing manifest; the first folder's path when none exists (so the error that
        follows names where the manifest was expected).
    """
    candidates = [d / f"{cohort}.yaml" for d in manifest_dirs(config)]
    return next((p for p in candidates if p.is_file()), candidates[0])


def cohort_problems(config: dict, config_files) -> list[Her2AtlasError]:
    """Every configured cohort has a manifest ``<dir>/<id>.yaml``; else name the nearest ids."""
    dirs = manifest_dirs(config)
    available = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})
    problems = []
    for cohort in config.get("cohorts", []):
        if cohort in available:
            continue
        looked = ", ".join(str(d / f"{cohort}.yaml") for d in dirs)
        problems.append(_problem(
            "cohorts", f"cohort {cohort!r} has no manifest (looked for {looked})",
            f"{did_you_mean(cohort, available)}write the manifest there, or fix the id; "
            f"manifests present: {', '.join(available) or '(none)'}", config_files))
    return problems


def config_problems(config: dict, schema_path: str | Path, *,
                    config_files: list[str | Path]) -> list[Her2AtlasError]:
    """Schema violations, then reference problems, each naming the config file that holds it."""
    shape = [_problem(field, message, fix, config_files)
             for field, message, fix in schema_problems(config, schema_path)]
    if shape:
        return shape
    return (primary_problems(config, config_files) + control_problems(config, config_files)
            + cohort_problems(config, config_files))


def check_config(config: dict, schema_path: str | Path, *,
                 config_files: list[str | Path]) -> None:
    """Raise one :class:`Her2AtlasError` listing every problem of the config (if any)."""
    problems = config_problems(config, schema_path, config_files=config_files)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise Her2AtlasError(f"{len(problems)} problems in the configuration:\n"
                             + "\n".join(str(p) for p in problems))
