"""COVID-19 Radiography Database (Chowdhury et al. 2020; Rahman et al. 2021): 21,165 chest
X-rays in four classes.

Layout (Kaggle tawsifurrahman/covid19-radiography-database, README.md.txt of the v4 release;
Chowdhury et al., IEEE Access 8:132665, 2020; Rahman et al., Comput Biol Med 132:104319, 2021)::

    COVID-19_Radiography_Dataset/<CLASS>/images/<CLASS>-<n>.png    299 x 299 PNG
    COVID-19_Radiography_Dataset/<CLASS>/masks/<CLASS>-<n>.png     lung masks (not read)
    COVID-19_Radiography_Dataset/<CLASS>.metadata.xlsx             FILE NAME, FORMAT, SIZE, URL
    CLASS in COVID, Lung_Opacity, Normal, Viral Pneumonia

Releases before v4 keep the PNGs directly in ``<CLASS>/``; both are read (``images/`` wins
where it exists). Task ``diagnosis``: the class folder (the catalog's native classes; another
folder quarantines its images). The database publishes no patient ids and no split, so the
split is left to `prepare`: a seeded hash of each image (``split_seed``, ``split_ratios``;
80/10/10 by default). Images gathered from the same patient by the source collections may
therefore straddle splits; nothing in the release allows grouping them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import IMAGE_CONFIG, decode_image, find_root, image_files, relative
from climb.errors import LabelMappingError, RecordError
from climb.record import Record

FOLDER = "COVID-19_Radiography_Dataset"


def sample_id(stem: str) -> str:
    """The image's name with spaces as underscores ("Viral Pneumonia-7" -> "Viral_Pneumonia-7")."""
    return stem.replace(" ", "_")


class Covid19RadiographyAdapter(Adapter):
    name = "covid19_radiography"
    default_config = dict(IMAGE_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, FOLDER) / FOLDER
        items = []
        for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            folder = class_dir / "images" if (class_dir / "images").is_dir() else class_dir
            for path in image_files(folder):
                items.append(Item(source=relative(path, raw_dir), key=sample_id(path.stem),
                                  info={"label": class_dir.name}))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        try:
            label = self.mapper("diagnosis").multiclass(item.info["label"])
        except LabelMappingError as err:
            raise RecordError(item.source, str(err)) from None
        image = decode_image(Path(raw_dir) / item.source, item.source, self.config)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            inputs={"image": image},
            labels={"diagnosis": label},
            meta={"source_file": item.source},
        ).validate()


ADAPTER = Covid19RadiographyAdapter
