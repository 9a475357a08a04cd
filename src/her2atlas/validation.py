"""Validate config and cohort manifests against their JSON-Schemas with messages people can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import Her2AtlasError


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
        raise Her2AtlasError(
            "file not found", file=str(path), fix="check the path (it is relative to the repo root)"
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
            f"remove it or use one of: {', '.join(allowed)}",
        )
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        field = ".".join(p for p in [where if where != "(top level)" else "", missing] if p)
        return field, "required key is missing", f"add '{missing}'"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return where, f"value {error.instance!r} is not allowed", f"use one of: {allowed}"
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
    best = jsonschema.exceptions.best_match(errors)
    # best_match prefers shallow errors; prefer a concrete one inside oneOf/anyOf branches.
    while best.context:
        best = jsonschema.exceptions.best_match(best.context)
    field, message, fix = _explain(best)
    more = f" ({len(errors) - 1} more problem(s) after fixing this one)" if len(errors) > 1 else ""
    raise Her2AtlasError(message + more, file=str(file), field=field, fix=fix or None)


def load_validated(path: str | Path, schema_path: str | Path) -> dict[str, Any]:
    """Load a YAML file and validate it; return the parsed mapping."""
    doc = load_yaml(path)
    if doc is None:
        doc = {}
    validate(doc, schema_path, file=path)
    return doc
