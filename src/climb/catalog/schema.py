"""The catalog schema: one validated record per dataset (pydantic v2).

Field names here are a public contract (DESIGN.md, "Contracts"): extend, never rename.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The closed modality list. Every entry's `modality` (and `modalities`) must be one of these.
Modality = Literal[
    "chest_xray",
    "mammography",
    "dermoscopy",
    "clinical_photo",
    "fundus",
    "oct",
    "pathology",
    "ecg",
    "eeg",
    "imu",
    "gene_expression",
    "scrna_seq",
    "genomic_sequence",
    "protein_sequence",
    "ct",
    "mri",
    "ultrasound",
    "radiology",  # mixed radiology images (CR/CT/MR/US...): modality recognition
    "ultrasound_video",
    "endoscopy_video",
    "brain_network",
    "molecular_graph",
    "protein_graph",
    "text",
    "ehr",
    "tabular",
    "image_text",
]
MODALITIES: tuple[str, ...] = Modality.__args__  # type: ignore[attr-defined]

AccessTier = Literal["open", "registration", "credentialed", "bundled"]
AuthKind = Literal["none", "physionet", "kaggle", "manual"]
TaskType = Literal[
    "binary", "multiclass", "multilabel", "regression", "segmentation", "generation"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Source(_Strict):
    """One file of a dataset (the "catalog source" contract).

    `path` is where the file lands under ROOT/NAME/. `extract: true` unpacks an archive in
    place. `auth` names the credential kind. Kaggle sources use
    ``kaggle://datasets/OWNER/SLUG`` or ``kaggle://competitions/SLUG`` URLs; manual sources
    (TCIA NBIA, Stanford AIMI, TUH, NDA, request forms) carry the URL of the page where a
    person must act, and `instructions`.

    `checksums` (optional) names where the publisher lists the files' checksums, so that
    every downloaded file is verified against them: ``zenodo:RECORD``, ``figshare:ARTICLE``,
    the URL of a ``<hex>  <path>`` checksum file (e.g. a ``SHA256SUMS.txt``), or ``none``.
    When absent it is derived for PhysioNet ``/files/PROJECT/VERSION/`` URLs (the project's
    ``SHA256SUMS.txt``) and Zenodo ``/records/ID/files/`` URLs (the record's md5s); see
    climb.acquire.publisher.
    """

    url: str
    path: str
    sha256: str | None = None
    size: int | None = Field(default=None, ge=0)
    mirrors: list[str] = Field(default_factory=list)
    extract: bool = False
    auth: AuthKind = "none"
    instructions: str | None = None
    # Per-record listing for `--subset` downloads (e.g. PhysioNet RECORDS files)
    records: str | None = None
    # (acquire) base URL the `records` listing and record files are relative to; derived for
    # PhysioNet URLs (https://physionet.org/files/PROJECT/VERSION/) when absent
    records_base: str | None = None
    # (acquire) suffixes appended to each listed record ("" = the line is the file itself);
    # None = the line itself when it has a file extension, else WFDB's .hea + .dat
    record_files: list[str] | None = None
    # (acquire) files under records_base always fetched with a subset (metadata tables)
    subset_extras: list[str] = Field(default_factory=list)
    # (acquire) the publisher's checksum listing; see the docstring
    checksums: str | None = None

    @field_validator("sha256")
    @classmethod
    def _hex64(cls, value: str | None) -> str | None:
        hexdigits = set("0123456789abcdef")
        if value is not None and (len(value) != 64 or not set(value) <= hexdigits):
            raise ValueError("sha256 must be 64 lowercase hex characters")
        return value

    @field_validator("checksums")
    @classmethod
    def _checksum_source(cls, value: str | None) -> str | None:
        if value is None or value == "none" or re.fullmatch(r"(zenodo|figshare):\d+", value) \
                or re.match(r"https?://[^/\s]+/\S*$", value):
            return value
        raise ValueError("checksums must be 'zenodo:RECORD', 'figshare:ARTICLE', the http(s) "
                         "URL of a checksum file, or 'none'")

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("path must be relative to ROOT/NAME and must not contain '..'")
        return value


class Access(_Strict):
    """Who may download the data and what a person must do first."""

    tier: AccessTier
    gate: str = Field(min_length=3, description="the exact gate, in one line")
    steps: list[str] = Field(default_factory=list, description="what a person must do, in order")
    url: str | None = Field(default=None, description="project page / request form / rules URL")


class Task(_Strict):
    """One prediction task, with class names in the dataset's native vocabulary."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    type: TaskType
    classes: list[str] = Field(default_factory=list)
    vocabulary: str | None = Field(
        default=None, description="harmonized vocabulary the native classes map into"
    )
    level: Literal["sample", "node", "patient", "token"] = "sample"
    description: str | None = None
    classes_from: Literal["train_split"] | None = Field(
        default=None, description="the classes are found by the adapter from the data (e.g. "
        "the k most frequent training codes) and recorded in the store manifest; "
        "`classes` is then left empty",
    )

    @model_validator(mode="after")
    def _classes_for_classification(self) -> Task:
        if self.classes_from is not None:
            if self.classes or self.type != "multilabel" or self.vocabulary:
                raise ValueError(f"task {self.name!r}: classes_from is for multilabel tasks "
                                 "without classes or vocabulary")
            return self
        if self.type in {"binary", "multiclass", "multilabel"} and not self.classes:
            raise ValueError(f"task {self.name!r} of type {self.type} needs its classes")
        if self.type == "binary" and len(self.classes) != 2:
            raise ValueError(f"binary task {self.name!r} needs exactly 2 classes")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"task {self.name!r} lists a class twice")
        return self


class SampleCounts(_Strict):
    """Sample counts; `unit` says what a sample is (images, records, segments, slices...)."""

    total: int = Field(ge=0)
    unit: str = "samples"
    train: int | None = Field(default=None, ge=0)
    val: int | None = Field(default=None, ge=0)
    test: int | None = Field(default=None, ge=0)
    source: str | None = Field(default=None, description="where the figure comes from")
    counts_are_records: bool = Field(
        default=False,
        description="the counts are of the records `prepare` writes (one per counted sample), "
        "so a whole-dataset `prepare` checks the records it produced against them",
    )
    tolerance: float | None = Field(
        default=None, ge=0, le=1,
        description="relative difference between produced and declared counts past which "
        "`prepare` fails (default 0.01; 0 = exact); smaller differences are warnings",
    )


class SplitInfo(_Strict):
    official: bool
    definition: str = Field(min_length=3)
    single_subject: bool = Field(
        default=False,
        description="one subject's recording split by time (e.g. MIT-BIH record 100): the "
        "subject is in every split by construction; `climb audit` reports it as expected",
    )


class PatientIds(_Strict):
    available: bool
    field: str | None = Field(default=None, description="the column/field that holds them")


class DatasetEntry(_Strict):
    """One dataset of the catalog."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    title: str
    modality: Modality
    modalities: list[Modality] = Field(default_factory=list)
    domain: str = Field(description="clinical domain, e.g. cardiology, radiology")
    benchmark: list[Literal["climb", "multimed", "climb-demo"]] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)
    samples: SampleCounts
    size_gb: float = Field(ge=0, description="approximate size on disk, GB (10^9 bytes)")
    access: Access
    license: str
    homepage: str
    citation: str = Field(min_length=10, description="BibTeX")
    sources: list[Source] = Field(default_factory=list)
    split: SplitInfo
    patient_ids: PatientIds
    adapter: str | None = Field(
        default=None, description="module under climb.adapt that reads the official layout"
    )
    notes: str | None = None

    @model_validator(mode="after")
    def _fill_modalities(self) -> DatasetEntry:
        if not self.modalities:
            self.modalities = [self.modality]
        elif self.modality not in self.modalities:
            self.modalities = [self.modality, *self.modalities]
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError("two tasks share a name")
        return self

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"{self.name} has no task {name!r}; tasks: {[t.name for t in self.tasks]}")
