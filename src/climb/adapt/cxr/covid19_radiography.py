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

from pathlib import Path

from climb.adapt.base import Item
from climb.adapt.imaging import ClassImageAdapter, class_folder_images, find_root, relative

FOLDER = "COVID-19_Radiography_Dataset"


def sample_id(stem: str) -> str:
    """The image's name with spaces as underscores ("Viral Pneumonia-7" -> "Viral_Pneumonia-7")."""
    return stem.replace(" ", "_")


class Covid19RadiographyAdapter(ClassImageAdapter):
    name = "covid19_radiography"

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, FOLDER) / FOLDER
        return [Item(source=relative(path, raw_dir), key=sample_id(path.stem),
                     info={"label": cls})
                for cls, path in class_folder_images(root, inner="images")]


ADAPTER = Covid19RadiographyAdapter
