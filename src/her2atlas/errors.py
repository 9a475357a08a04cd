"""The error type shown to users: what is wrong, where, and how to fix it."""

from __future__ import annotations


class Her2AtlasError(Exception):
    """A user-facing error naming the file, the field and the fix.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    file
        The file the problem is in (config, manifest, data file), if any.
    field
        The key, column or row that is wrong, if any.
    fix
        What the user should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.field = field
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}")
        if self.field:
            parts.append(f"[{self.field}]")
        head = ": ".join([" ".join(parts), self.message]) if parts else self.message
        return head + (f"\n  fix: {self.fix}" if self.fix else "")


class CountMismatchError(Her2AtlasError):
    """Expected cohort counts (from the manifest) differ from what the data hold."""


def nearest(name: str, options, *, n: int = 3) -> list[str]:
    """Up to ``n`` of ``options`` closest to ``name`` (case-insensitive), best first.

    Close spellings first (difflib), then options that start with a close spelling of
    ``name`` ('randomized' → 'randomised_trastuzumab'), then options containing ``name``.
    """
    import difflib

    lower = str(name).lower()
    if not lower:
        return []
    by_lower: dict[str, str] = {}
    for option in options:  # first spelling of each option, in the given order
        by_lower.setdefault(str(option).lower(), str(option))
    picked = difflib.get_close_matches(lower, list(by_lower), n=n, cutoff=0.6)
    prefix = [o for o in by_lower if len(lower) >= 4
              and difflib.SequenceMatcher(None, lower, o[:len(lower)]).ratio() >= 0.8]
    contains = [o for o in by_lower if lower in o]
    for option in prefix + contains:
        if option not in picked:
            picked.append(option)
    return [by_lower[o] for o in picked[:n]]


def did_you_mean(name: str, options) -> str:
    """``"did you mean 'x'? "`` (or ``""``) followed by nothing: for the start of a fix."""
    close = nearest(name, options)
    return f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""


def one_of(options) -> str:
    """Every option, quoted and comma-separated (never cut short)."""
    return ", ".join(repr(str(o)) for o in options)
