"""The dataset catalog: what is in the corpus, what it takes to get it."""

from climb.catalog.loader import Catalog, entry_hash, load_catalog, validate_entry
from climb.catalog.schema import MODALITIES, DatasetEntry, Source, Task

__all__ = [
    "MODALITIES",
    "Catalog",
    "DatasetEntry",
    "Source",
    "Task",
    "entry_hash",
    "load_catalog",
    "validate_entry",
]
