"""Validate config and cohort manifests against their JSON-Schemas with messages people can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import Her2AtlasError, did_you_mean

#: The repository root next to the package (src/her2atlas/ → ../..), holding workflow/schemas.
REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "workflow" / "schemas"


def default_schema(name: str) -> Path:
    """Path of a schema shipped with the workflow (``manifest`` or ``config``), from any cwd."""
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    if not path.is_file():
        raise Her2AtlasError(
            f"schema not found at {path}", file=str(path),
            fix="run from a checkout of the repository (pip install -e .) or pass --schema")
    return path


def _yaml_text(value: Any) -> str:
    """A value as YAML writes it (None → null), for messages listing allowed values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning syntax errors and missing files into :class:`Her2AtlasError`.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    Any
        The parsed document.
    """
    path = Path(path)
    if not path.is_file():
        nearby = sorted(p.name for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        hint = did_you_mean(path.name, nearby) if nearby else ""
        raise Her2AtlasError(
            "file not found", file=str(path),
            fix=f"{hint}looked for {path.resolve()} (relative paths start at the current "
            f"directory, {Path.cwd()})",
        )
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise Her2AtlasError(
            f"not valid YAML: {exc}", file=str(path), fix="fix the YAML syntax at the line shown"
        ) from exc


def _location(error: jsonschema.ValidationError) -> str:
    parts: list[str] = []
    for item in error.absolute_path:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _explain(error: jsonschema.ValidationError) -> tuple[str, str, str]:
    """Return (field, message, fix) for one schema violation."""
    where = _location(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        known = set(allowed)
        unknown = sorted(k for k in error.instance if k not in known)
        field = ".".join(p for p in [where if where != "(top level)" else "", unknown[0]] if p)
        return (
            field,
            f"unknown key {', '.join(repr(u) for u in unknown)}",
            f"{did_you_mean(unknown[0], allowed)}remove it or use one of: {', '.join(allowed)}",
        )
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        field = ".".join(p for p in [where if where != "(top level)" else "", missing] if p)
        return field, "required key is missing", f"add '{missing}'"
    if error.validator == "enum":
        allowed = ", ".join(_yaml_text(v) for v in error.validator_value)
        return (where, f"value {_yaml_text(error.instance)} is not allowed",
                f"{did_you_mean(str(error.instance), error.validator_value)}use one of: {allowed}")
    if error.validator == "type":
        return (
            where,
            f"value {error.instance!r} has the wrong type",
            f"expected {error.validator_value}",
        )
    if error.validator == "pattern":
        pattern = str(error.validator_value)
        if "{64}" in pattern:
            fix = "give the sha256 as 64 lowercase hexadecimal digits (sha256sum prints it)"
        elif "A-Za-z" in pattern:
            fix = "use letters, digits, '_' or '-' only"
        else:
            fix = f"use a value matching {pattern}"
        return where, f"value {error.instance!r} does not match the pattern {pattern!r}", fix
    return where, error.message, error.schema.get("description", "")


def _concrete(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The most specific violation inside oneOf/anyOf branches."""
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    return error


def schema_problems(instance: Any, schema_path: str | Path) -> list[tuple[str, str, str]]:
    """Every schema violation of ``instance`` as (field, message, fix), one per location.

    Unlike :func:`validate`, nothing is raised: ``her2atlas check-manifest`` lists them all.
    """
    schema = load_yaml(schema_path)
    validator = jsonschema.validators.validator_for(schema)(schema)
    by_place: dict[tuple, jsonschema.ValidationError] = {}
    for error in validator.iter_errors(instance):
        by_place.setdefault(tuple(error.absolute_path), error)
    problems = []
    for place in sorted(by_place, key=lambda p: [str(x) for x in p]):
        field, message, fix = _explain(_concrete(by_place[place]))
        problems.append((field, message, fix))
    return problems


def validate(instance: Any, schema_path: str | Path, *, file: str | Path) -> None:
    """Validate ``instance`` against the YAML JSON-Schema at ``schema_path``.

    Parameters
    ----------
    instance
        The parsed config or manifest.
    schema_path
        A JSON-Schema written in YAML.
    file
        The file the instance came from, named in the error.

    Raises
    ------
    Her2AtlasError
        On the first (most specific) violation, naming the file, the key and what is allowed.
    """
    schema = load_yaml(schema_path)
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), e.path))
    if not errors:
        return
    # best_match prefers shallow errors; prefer a concrete one inside oneOf/anyOf branches.
    field, message, fix = _explain(_concrete(jsonschema.exceptions.best_match(errors)))
    more = f" ({len(errors) - 1} more problem(s) after fixing this one)" if len(errors) > 1 else ""
    raise Her2AtlasError(message + more, file=str(file), field=field, fix=fix or None)


def load_validated(path: str | Path, schema_path: str | Path) -> dict[str, Any]:
    """Load a YAML file and validate it; return the parsed mapping."""
    doc = load_yaml(path)
    if doc is None:
        doc = {}
    validate(doc, schema_path, file=path)
    return doc
