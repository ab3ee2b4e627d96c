"""Load: torch datasets over the prepared store, mixture sampling, collation.

- :class:`StoreDataset`: map-style, random access by row over one or more prepared datasets.
- :class:`StreamingStoreDataset`: iterable over fsspec paths, exactly-once sharding over
  DataLoader workers and DDP ranks, shuffle buffer.
- :class:`MixtureSampler`: proportional / uniform / temperature / explicit-weight mixtures,
  deterministic and resumable from a step.
- :class:`Collator` / :func:`collate`: the batch dict of docs/interfaces.md.
- :class:`TaskSpec`, :func:`load_task_specs`: task descriptions from the manifests.
"""

from climb.load.collate import Collator, collate
from climb.load.dataset import StoreDataset, to_sample
from climb.load.iterable import StreamingStoreDataset
from climb.load.sampler import MixtureSampler, mixture_probabilities
from climb.load.tasks import TaskSpec, load_task_specs, task_specs_from_manifest

__all__ = [
    "Collator",
    "MixtureSampler",
    "StoreDataset",
    "StreamingStoreDataset",
    "TaskSpec",
    "collate",
    "load_task_specs",
    "mixture_probabilities",
    "task_specs_from_manifest",
    "to_sample",
]
