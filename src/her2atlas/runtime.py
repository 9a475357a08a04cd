"""Glue between a Snakemake ``script:`` job and the library: logging and clean errors."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from .errors import Her2AtlasError


@contextlib.contextmanager
def from_snakemake(smk) -> Iterator[logging.Logger]:
    """Run a job body with logging to the rule's ``log:`` file and readable failures.

    A :class:`Her2AtlasError` is written to the log and stderr as one message (file, field,
    fix) and ends the job with exit status 1; any other exception keeps its traceback.
    Outputs are written atomically by the library, so a failed job leaves nothing half-written.

    Parameters
    ----------
    smk
        The ``snakemake`` object Snakemake injects into scripts.

    Yields
    ------
    logging.Logger
        A logger for the job.
    """
    logger = logging.getLogger("her2atlas")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    log_files = list(getattr(smk, "log", []) or [])
    if log_files:
        Path(log_files[0]).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_files[0], mode="w", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    rule = getattr(smk, "rule", "job")
    wildcards = dict(getattr(smk, "wildcards", {}) or {})
    logger.info("start %s %s", rule, wildcards or "")
    try:
        yield logger
    except Her2AtlasError as exc:
        logger.error("%s failed: %s", rule, exc)
        for handler in handlers:
            handler.flush()
        sys.exit(1)
    except Exception:
        logger.error("%s failed with an unexpected error:\n%s", rule, traceback.format_exc())
        raise
    logger.info("done %s", rule)
