"""Atomic file writing: write to a temporary sibling, then rename into place.

A failed or interrupted job therefore never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    Parameters
    ----------
    target
        Final destination. Its parent directory is created if missing.

    Yields
    ------
    pathlib.Path
        A path in the same directory to write to. It is removed if the block raises.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; outputs should be readable
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_tsv(target: str | os.PathLike[str], frame, *, float_format: str = "%.10g") -> None:
    """Write a DataFrame as TSV atomically, with a fixed float format for byte-stable output."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format=float_format, na_rep="NA")
