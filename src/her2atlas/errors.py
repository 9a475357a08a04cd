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
