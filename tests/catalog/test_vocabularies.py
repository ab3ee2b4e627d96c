"""The non-signal harmonized vocabularies and mapping tables: they load, cover every native class
of the datasets that use them, and map labels as documented (uncertain -> NaN by default, 1/0
under ones/zeros, unmapped -> LabelMappingError, explicit null -> dropped)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from climb.catalog import load_catalog
from climb.errors import LabelMappingError
from climb.harmonize import (
    LabelMapper,
    coverage_problems,
    list_vocabularies,
    load_mapping_file,
    load_vocabulary,
)

HARMONIZE = Path(__file__).resolve().parents[2] / "src" / "climb" / "harmonize"

OWNED_VOCABS = {
    "cxr14": 14,  # the 14 CheXpert observations (Irvin et al. 2019)
    "dermatology5": 5,
    "dr_grade5": 5,  # ICDR scale 0-4 (Wilkinson et al. 2003)
    "birads": 6,  # BI-RADS 0-5
}
# Mapping tables written with the non-signal catalog (the signal datasets' tables are other
# engineers' work and are checked by their tests).
OWNED_MAPPINGS = ["mimic_cxr", "chexpert", "vindr_cxr", "ham10000", "isic2020", "pad_ufes_20",
                  "aptos2019", "messidor2", "jichi", "vindr_mammo", "cbis_ddsm"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(use_env=False)


@pytest.mark.parametrize(("name", "n"), OWNED_VOCABS.items())
def test_vocabulary_loads(name, n):
    assert name in list_vocabularies()
    vocab = load_vocabulary(name)
    assert vocab.name == name
    assert len(vocab.classes) == n == len(set(vocab.classes))
    assert vocab.type == ("multilabel" if name == "cxr14" else "multiclass")


def test_cxr14_is_the_chexpert_label_set(catalog):
    # CheXpert's train.csv observation columns, in order (Irvin et al. 2019, Table 1)
    native = catalog.get("chexpert").task("findings").classes
    assert load_vocabulary("cxr14").classes == tuple(native)


@pytest.mark.parametrize("dataset", OWNED_MAPPINGS)
def test_mapping_file_matches_its_catalog_entry(catalog, dataset):
    table = load_mapping_file(dataset)
    assert table is not None and table["dataset"] == dataset
    entry = catalog.get(dataset)
    for task_name, spec in table["tasks"].items():
        task = entry.task(task_name)
        assert spec["vocabulary"] == task.vocabulary
        # builds the mapper, which rejects any target outside the vocabulary
        LabelMapper.for_task(entry, task_name)


def test_full_coverage_for_the_non_signal_datasets(catalog):
    # Filtered to the datasets of this catalog part: the signal entries (ptbxl, ...) are being
    # written concurrently and their tables are checked by their own tests.
    owned = [e for e in catalog if e.name in OWNED_MAPPINGS]
    assert len(owned) == len(OWNED_MAPPINGS)
    assert coverage_problems(owned) == []


def test_every_owned_table_belongs_to_a_task_using_that_vocabulary(catalog):
    users = {e.name for e in catalog for t in e.tasks if t.vocabulary in OWNED_VOCABS}
    assert set(OWNED_MAPPINGS) <= users


def _chexpert_mapper(catalog, policy=None):
    entry = catalog.get("chexpert")
    if policy is None:
        return LabelMapper.for_task(entry, "findings")
    table = load_mapping_file("chexpert")["tasks"]["findings"]["map"]
    vocab = load_vocabulary("cxr14")
    return LabelMapper("chexpert", "findings", "multilabel", vocab.classes, table, policy)


def test_uncertain_is_nan_by_default(catalog):
    mapper = _chexpert_mapper(catalog)
    assert mapper.uncertain_policy == "nan"
    row = {"Cardiomegaly": -1.0, "Edema": 1.0, "Fracture": 0.0, "Pneumonia": ""}
    out = mapper.multilabel_from_values(row)
    idx = mapper.classes.index
    assert math.isnan(out[idx("Cardiomegaly")])
    assert out[idx("Edema")] == 1.0
    assert out[idx("Fracture")] == 0.0
    assert math.isnan(out[idx("Pneumonia")])  # blank = not mentioned
    assert np.isnan(out).sum() == 14 - 2


@pytest.mark.parametrize(("policy", "value"), [("ones", 1.0), ("zeros", 0.0)])
def test_uncertain_follows_ones_and_zeros(catalog, policy, value):
    mapper = _chexpert_mapper(catalog, policy)
    out = mapper.multilabel_from_values({"Cardiomegaly": -1, "Edema": 0})
    assert out[mapper.classes.index("Cardiomegaly")] == value
    assert out[mapper.classes.index("Edema")] == 0.0


def test_unmapped_native_label_raises(catalog):
    mapper = LabelMapper.for_task(catalog.get("ham10000"), "diagnosis")
    with pytest.raises(LabelMappingError, match=r"ham10000/diagnosis.*'scc'"):
        mapper.multiclass("scc")
    cxr = LabelMapper.for_task(catalog.get("vindr_cxr"), "findings")
    with pytest.raises(LabelMappingError):
        cxr.multilabel_from_positives(["Hernia"])


def test_explicit_null_is_dropped(catalog):
    ham = LabelMapper.for_task(catalog.get("ham10000"), "diagnosis")
    assert ham.multiclass("df") == -1
    assert ham.multiclass("vasc") == -1
    assert ham.multiclass("mel") == ham.classes.index("melanoma")
    assert ham.multiclass("akiec") == ham.classes.index("actinic_keratosis_scc")
    cxr = LabelMapper.for_task(catalog.get("vindr_cxr"), "findings")
    out = cxr.multilabel_from_positives(["Calcification", "Nodule/Mass", "Lung tumor"])
    assert out.sum() == 1.0 and out[cxr.classes.index("Lung Lesion")] == 1.0


def test_dermatology_sets_share_the_five_classes(catalog):
    # melanoma and nevus of all three derm sets land on the same index
    for dataset, mel, nev in [("ham10000", "mel", "nv"), ("isic2020", "melanoma", "nevus"),
                              ("pad_ufes_20", "MEL", "NEV")]:
        m = LabelMapper.for_task(catalog.get(dataset), "diagnosis")
        assert m.multiclass(mel) == 0 and m.multiclass(nev) == 1, dataset


def test_dr_grades_and_birads_map_by_grade(catalog):
    aptos = LabelMapper.for_task(catalog.get("aptos2019"), "dr_grade")
    assert [aptos.multiclass(g) for g in range(5)] == [0, 1, 2, 3, 4]  # ints as read from CSV
    jichi = LabelMapper.for_task(catalog.get("jichi"), "dr_grade")
    assert [jichi.multiclass(g) for g in ["ndr", "sdr", "ppdr", "pdr"]] == [0, 1, 3, 4]
    vindr = LabelMapper.for_task(catalog.get("vindr_mammo"), "birads")
    cbis = LabelMapper.for_task(catalog.get("cbis_ddsm"), "birads")
    assert vindr.multiclass("BI-RADS 4") == cbis.multiclass(4) == 4


def test_vocabulary_files_have_the_documented_keys():
    for name in OWNED_VOCABS:
        data = yaml.safe_load((HARMONIZE / "vocabularies" / f"{name}.yaml").read_text())
        assert {"name", "title", "type", "classes"} <= set(data)


def test_mapping_errors_quote_codes_but_never_free_text():
    """A quarantine reason carries the mapping error: codes are quoted so the table can be
    fixed, free text (a "Reason for admission", a "# Dx:" line, a date) never is."""
    from climb.harmonize import describe_label

    for code in ("164889003", "NORM", "1AVB", "V", "/", "7"):
        assert describe_label(code) == repr(code)
    for text in ("Jane Q Doe", "Reason for admission: Myocardial infarction", "14.03.1957",
                 "1957-03-14", "Doe"):
        described = describe_label(text)
        assert text not in described and "free-text" in described
