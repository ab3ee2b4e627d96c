"""Exceptions shared by every layer. Messages name the file and the problem, never a credential."""

from __future__ import annotations

from pathlib import Path


class ClimbError(Exception):
    """Base class of every error climb raises on purpose."""


class CatalogError(ClimbError):
    """A catalog or overlay file is invalid, or a dataset name is unknown."""


class LabelMappingError(ClimbError):
    """A native label has no entry in the dataset's mapping table."""


class RecordError(ClimbError):
    """One source record cannot be read. `prepare` quarantines it and carries on.

    Always names the offending file and the problem, e.g.
    ``RecordError("records500/00001_hr.dat", "truncated: 4000 of 5000 samples")``.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # picklable across process pools and Ray
        return (RecordError, (self.path, self.problem))
