"""Facts of the built-in catalog that matter: every CLIMB/MultiMed dataset present, counts of
well-known datasets (each with the source it was checked against), access steps, sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from climb.adapt.base import has_adapter
from climb.catalog import load_catalog

DATASETS_DIR = Path(__file__).resolve().parents[2] / "src" / "climb" / "catalog" / "datasets"

# The 34 CLIMB datasets (of its 44) that are not signal datasets, by catalog name. The 10 signal
# ones (ptbxl, cpsc2018, georgia, chapman_shaoxing, tuab, tuev, iiic, hugadb, geo,
# expression_atlas) are cataloged by other engineers.
CLIMB_NON_SIGNAL = [
    "mimic_cxr", "chexpert", "vindr_cxr", "covid19_radiography", "coronahack",
    "vindr_mammo", "cbis_ddsm", "cmmd",
    "isic2020", "ham10000", "pad_ufes_20",
    "messidor2", "aptos2019", "jichi",
    "lc25000", "bcss",
    "rspect", "lndb", "head_ct_hemorrhage", "kits23",
    "busi", "covid_blues", "covid_us",
    "brain_tumor_mri", "brain_mri",
    "cholec80",
    "abcd", "abide", "ppmi", "proteins", "ppi",
    "inspect", "vital", "mimic_iv",
]
# MultiMed modalities CLIMB lacks, one public dataset each (name -> modality).
MULTIMED = {
    "oct2017": "oct",
    "pcam": "pathology",
    "genomic_promoters": "genomic_sequence",
    "pbmc68k": "scrna_seq",
    "tape_secondary_structure": "protein_sequence",
    "vqa_rad": "image_text",
}
OWNED = [*CLIMB_NON_SIGNAL, "echonet_dynamic", *MULTIMED]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(use_env=False)


def test_the_34_climb_non_signal_datasets_are_cataloged(catalog):
    assert len(CLIMB_NON_SIGNAL) == 34 == len(set(CLIMB_NON_SIGNAL))
    missing = [n for n in CLIMB_NON_SIGNAL if n not in catalog]
    assert missing == []
    for name in CLIMB_NON_SIGNAL:
        assert catalog.get(name).benchmark == ["climb"], name


def test_multimed_additions_and_echonet(catalog):
    for name, modality in MULTIMED.items():
        entry = catalog.get(name)
        assert entry.benchmark == ["multimed"], name
        assert entry.modality == modality, name
    echo = catalog.get("echonet_dynamic")
    assert echo.modality == "ultrasound_video"
    # EF regression, the EF < 50% reduced-EF class, and the ED/ES left-ventricle masks
    assert {t.type for t in echo.tasks} == {"regression", "binary", "segmentation"}


def test_each_owned_file_holds_the_entry_of_its_name():
    for name in OWNED:
        raw = yaml.safe_load((DATASETS_DIR / f"{name}.yaml").read_text())
        assert raw["name"] == name
        if "adapter" in raw:  # an entry names its adapter only once the module exists
            assert has_adapter(load_catalog(use_env=False).get(name)), f"{name}: no adapter"


# (name, total, source) - each checked against the publisher's page or paper.
KNOWN_TOTALS = [
    ("mimic_cxr", 377_110, "PhysioNet MIMIC-CXR-JPG page: 377,110 images"),
    ("chexpert", 224_316, "Irvin et al. 2019: 224,316 radiographs of 65,240 patients"),
    ("vindr_cxr", 18_000, "PhysioNet VinDr-CXR: 15,000 train + 3,000 test"),
    ("vindr_mammo", 20_000, "VinDr-Mammo: 5,000 four-view exams"),
    ("isic2020", 33_126, "Rotemberg et al. 2021: 33,126 training images"),
    ("ham10000", 10_015, "Tschandl et al. 2018: 10,015 images"),
    ("pad_ufes_20", 2_298, "Pacheco et al. 2020: 2,298 images"),
    ("aptos2019", 3_662, "Kaggle APTOS 2019 train.csv: 3,662 labelled images"),
    ("jichi", 9_939, "Takahashi et al. 2017 abstract: 9,939 photographs of 2,740 patients"),
    ("lc25000", 25_000, "Borkowski et al. 2019: 25,000 images, 5 classes of 5,000"),
    ("lndb", 294, "lndb.grand-challenge.org/Data: 294 CT scans"),
    ("head_ct_hemorrhage", 82, "Hssayeni et al. 2020 / PhysioNet ct-ich: 82 CT scans"),
    ("busi", 780, "Al-Dhabyani et al. 2020: 780 images"),
    ("covid_blues", 362, "NinaWie/COVID-BLUES README: 362 videos of 63 patients"),
    ("brain_mri", 253, "Kaggle navoneel: 155 tumour + 98 normal"),
    ("brain_tumor_mri", 3_264, "Kaggle sartajbhuvaji: 3,264 images"),
    ("rspect", 1_790_594, "RSNA-STR PE Kaggle data page: 1,790,594 training slices"),
    ("proteins", 1_113, "TUDataset PROTEINS: 1,113 graphs"),
    ("ppi", 56_944, "GraphSAGE PPI: 56,944 nodes in 24 graphs"),
    ("vital", 210_000, "HF mao1207/BioMed-VITAL-instructions: 210K release"),
    ("echonet_dynamic", 10_030, "Ouyang et al. 2020: 10,030 echocardiogram videos"),
    ("oct2017", 84_495, "Kermany et al. OCT2017 (Mendeley/Kaggle): 84,495 images"),
    ("pcam", 327_680, "basveeling/pcam README: 327,680 patches"),
    ("genomic_promoters", 36_131, "genomic_benchmarks info(): 36,131 sequences"),
    ("vqa_rad", 3_515, "Lau et al. 2018: 3,515 QA pairs on 315 images"),
]


@pytest.mark.parametrize(
    ("name", "total", "source"), KNOWN_TOTALS, ids=[k[0] for k in KNOWN_TOTALS]
)
def test_known_sample_counts(catalog, name, total, source):
    entry = catalog.get(name)
    assert entry.samples.total == total, source
    assert entry.samples.source, f"{name}: samples.source must say where the figure comes from"


# Publisher splits that partition the whole set: train + val + test == total.
@pytest.mark.parametrize("name", ["mimic_cxr", "vindr_cxr", "vindr_mammo", "pcam", "ppi",
                                  "genomic_promoters", "echonet_dynamic", "cholec80"])
def test_published_splits_add_up(catalog, name):
    s = catalog.get(name).samples
    assert (s.train or 0) + (s.val or 0) + (s.test or 0) == s.total


def test_every_owned_entry_is_complete(catalog):
    for name in OWNED:
        e = catalog.get(name)
        assert e.citation.lstrip().startswith("@") and "title=" in e.citation, name
        assert e.license.strip(), name
        assert e.homepage.startswith("http"), name
        assert e.sources, f"{name}: no sources"
        assert e.samples.source, name
        assert e.split.definition, name
        if e.access.tier != "open":
            assert e.access.steps, f"{name}: a {e.access.tier} dataset needs the steps"
            assert e.access.url and e.access.url.startswith("http"), name
        for s in e.sources:
            # never invented: no owned entry carries a checksum the publisher does not give
            assert s.sha256 is None, name
            if s.auth == "manual":
                assert s.instructions, f"{name}: manual source needs instructions"
            if s.url.startswith("kaggle://"):
                assert s.auth == "kaggle", name
                assert re.fullmatch(r"kaggle://(datasets/[\w.-]+/[\w.-]+|competitions/[\w.-]+)",
                                    s.url), s.url


def test_credentialed_physionet_entries_name_citi_and_the_dua(catalog):
    credentialed = [catalog.get(n) for n in OWNED
                    if catalog.get(n).access.tier == "credentialed"]
    # MIMIC-CXR(-JPG), VinDr-CXR and MIMIC-IV are PhysioNet credentialed projects (project pages).
    assert {e.name for e in credentialed} == {"mimic_cxr", "vindr_cxr", "mimic_iv"}
    for e in credentialed:
        steps = " ".join(e.access.steps)
        assert "CITI" in steps and "Data or Specimens Only Research" in steps, e.name
        assert "data use agreement" in steps.lower(), e.name
        assert any(s.auth == "physionet" for s in e.sources), e.name
        assert e.access.url.startswith("https://physionet.org/content/"), e.name


def test_restricted_physionet_entry_needs_only_the_dua(catalog):
    # The VinDr-Mammo PhysioNet page reads "Restricted Access": an account and the signed
    # restricted-data DUA, without credentialing or CITI training.
    e = catalog.get("vindr_mammo")
    steps = " ".join(e.access.steps)
    assert e.access.tier == "registration"
    assert "Restricted Health Data Use Agreement" in steps and "CITI" not in steps
    assert e.license == "PhysioNet Restricted Health Data License 1.5.0"


def test_kaggle_competitions_link_their_rules(catalog):
    comps = [e for e in catalog if e.name in OWNED
             and any(s.url.startswith("kaggle://competitions/") for s in e.sources)]
    assert {e.name for e in comps} == {"aptos2019", "rspect"}
    for e in comps:
        slug = next(s.url for s in e.sources if s.url.startswith("kaggle://competitions/"))
        rules = f"https://www.kaggle.com/competitions/{slug.rsplit('/', 1)[1]}/rules"
        assert e.access.url == rules
        assert any(rules in step for step in e.access.steps), e.name
        assert e.access.tier == "registration"


def test_shared_vocabularies_are_used_where_they_apply(catalog):
    expect = {
        "mimic_cxr": "cxr14", "chexpert": "cxr14", "vindr_cxr": "cxr14",
        "ham10000": "dermatology5", "isic2020": "dermatology5", "pad_ufes_20": "dermatology5",
        "aptos2019": "dr_grade5", "messidor2": "dr_grade5", "jichi": "dr_grade5",
        "vindr_mammo": "birads", "cbis_ddsm": "birads",
    }
    for name, vocab in expect.items():
        assert vocab in {t.vocabulary for t in catalog.get(name).tasks}, name


def test_list_json_totals_equal_the_sum_over_entries(cli, monkeypatch):
    monkeypatch.delenv("CLIMB_CATALOG", raising=False)
    result = cli(["list", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    entries = payload["datasets"]
    assert {n for n in OWNED} <= {e["name"] for e in entries}
    assert payload["totals"]["datasets"] == len(entries)
    assert payload["totals"]["samples"] == sum(e["samples"]["total"] for e in entries)
    assert payload["totals"]["size_tb"] == round(sum(e["size_gb"] for e in entries) / 1000, 3)


SIGNAL_DATASETS = ["ptbxl", "chapman_shaoxing", "georgia", "cpsc2018", "tuab", "iiic", "tuev",
                   "geo", "expression_atlas", "hugadb"]


def test_all_44_climb_datasets_plus_echonet_are_tagged_climb(catalog):
    """The issue's table: 44 CLIMB datasets + EchoNet-Dynamic = 45 entries tagged `climb`."""
    climb = {e.name for e in catalog if "climb" in e.benchmark}
    assert set(SIGNAL_DATASETS) <= climb
    assert "echonet_dynamic" in climb
    assert len(climb) == 45, sorted(climb)
    multimed = {e.name for e in catalog if "multimed" in e.benchmark}
    assert not multimed & climb
    assert len({m for e in catalog if "climb" in e.benchmark for m in e.modalities}) >= 15
