"""Brain MRI Images for Brain Tumor Detection (Chakrabarty 2019): 253 brain MRI slices, 155
with a tumor and 98 without.

Layout (Kaggle navoneel/brain-mri-images-for-brain-tumor-detection, its description)::

    no/<name>     98 images without a tumor (JPEG/PNG; names like "N1.JPG", "no 10.jpg")
    yes/<name>    155 images with a tumor ("Y1.jpg", ...)
    brain_tumor_dataset/{no,yes}/   the archive's second, identical copy

The first folder holding ``yes/`` (the top one where the archive has both copies) is read, so
the duplicate copy is never counted twice. Task ``tumor``: the folder (``no`` / ``yes``, the
catalog's native classes; another folder quarantines its images). No patient ids and no split
are published: the split is left to `prepare`, a seeded hash of each image (``split_seed``,
``split_ratios``; 80/10/10 by default). Sample ids are ``<folder>-<name>`` with spaces and
brackets replaced, because names differ only by extension or case across folders.
"""

from __future__ import annotations

from pathlib import Path

from climb.adapt.base import Item
from climb.adapt.imaging import ClassImageAdapter, class_folder_images, find_root, relative
from climb.adapt.mri.brain_tumor_mri import slug


class BrainMriAdapter(ClassImageAdapter):
    name = "brain_mri"
    task = "tumor"

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, "yes")
        return [Item(source=relative(path, raw_dir), key=f"{cls}-{slug(path.name)}",
                     info={"label": cls})
                for cls, path in class_folder_images(root)]


ADAPTER = BrainMriAdapter
