"""LC25000 (Borkowski et al. 2019, arXiv:1912.12142): 25,000 768 x 768 H&E tiles of lung and
colon tissue in five classes, augmented from 1,250 originals (250 per class).

Layout (the publisher's README, https://github.com/tampapath/lung_colon_image_set, and the
Kaggle mirror andrewmvd/lung-and-colon-cancer-histopathological-images)::

    lung_colon_image_set/lung_image_sets/{lung_aca,lung_n,lung_scc}/<name>.jpeg
    lung_colon_image_set/colon_image_sets/{colon_aca,colon_n}/<name>.jpeg
        names like lungaca1.jpeg, lungn1.jpeg, lungscc1.jpeg, colonca1.jpeg, colonn1.jpeg

Task ``tissue``: the class folder (the catalog's native classes; no shared vocabulary exists,
so the mapper keeps them as they are); a folder that is not a class quarantines its images.
Meta: source file.

Split: none official, and the release publishes no id of the original image each tile was
augmented from, so tiles of one original can straddle splits (an image-level split leaks;
nothing allows grouping). The split is `prepare`'s seeded hash of each tile (``split_seed``,
``split_ratios``: 80/10/10 by default; CLIMB's 75/10/15 is ``split_ratios=0.75,0.1,0.15``).
"""

from __future__ import annotations

from pathlib import Path

from climb.adapt.base import Item
from climb.adapt.imaging import ClassImageAdapter
from climb.adapt.photo import PHOTO_CONFIG, decode_photo, find_file
from climb.record import Input

ROOT = "lung_colon_image_set"
GROUPS = ("lung_image_sets", "colon_image_sets")
SUFFIXES = (".jpeg", ".jpg", ".png")


class Lc25000Adapter(ClassImageAdapter):
    name = "lc25000"
    task = "tissue"
    label_key = "tissue"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_file(raw_dir, [ROOT])
        items = []
        for group in GROUPS:
            base = root / group
            if not base.is_dir():
                continue
            for folder in sorted(p for p in base.iterdir() if p.is_dir()):
                for path in sorted(folder.iterdir()):
                    if path.suffix.lower() in SUFFIXES:
                        items.append(Item(source=path.relative_to(raw_dir).as_posix(),
                                          key=f"{folder.name}-{path.stem}",
                                          info={"tissue": folder.name}))
        return items

    def decode(self, raw_dir: Path, item: Item) -> Input:
        return decode_photo(raw_dir, item.source, self.config)


ADAPTER = Lc25000Adapter
