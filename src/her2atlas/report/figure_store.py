"""Report figures as PNG files: rendered in worker processes, written beside the pages.

Pages refer to ``figures/<name>.png`` (relative to the report folder), so the HTML stays small;
the folder is still self-contained (nothing is fetched when it is viewed).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from ..atomic import atomic_path


def safe_name(name: str) -> str:
    """A file-safe figure name (letters, digits, ``_``, ``.``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


class FigureStore:
    """Collects figures (each a function returning a PNG data URI) and writes them as files.

    Parameters
    ----------
    pool
        A ``concurrent.futures`` executor to render in, or None to render at once.
    """

    def __init__(self, pool=None) -> None:
        self._pool = pool
        self._figures: dict[str, object] = {}

    def add(self, name: str, func, *args, alt: str, caption: str, **kwargs) -> dict:
        """Queue ``func(*args, **kwargs)`` as ``figures/<name>.png``; returns the template dict."""
        name = safe_name(name)
        if name in self._figures:
            raise ValueError(f"report figure {name!r} is added twice")
        self._figures[name] = (self._pool.submit(func, *args, **kwargs) if self._pool
                               else func(*args, **kwargs))
        return {"src": f"figures/{name}.png", "alt": alt, "caption": caption}

    def __len__(self) -> int:
        return len(self._figures)

    def save(self, directory: Path) -> list[Path]:
        """Wait for every figure and write it as ``directory/<name>.png``."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, value in self._figures.items():
            uri = value if isinstance(value, str) else value.result()
            with atomic_path(directory / f"{name}.png") as tmp:
                tmp.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
            written.append(directory / f"{name}.png")
        return written
