"""Tiny encoder configs shared by the model tests (no downloads)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

TINY_CONVNEXT = {"arch": "convnextv2", "normalize": "none",
                 "config": {"num_channels": 3, "hidden_sizes": [8, 16], "depths": [1, 1],
                            "image_size": 32}}
TINY_VIT = {"arch": "vit", "config": {"image_size": 16, "patch_size": 8, "hidden_size": 16,
                                      "num_hidden_layers": 1, "num_attention_heads": 2,
                                      "intermediate_size": 32, "num_channels": 3}}


@dataclass
class Task:
    key: str
    type: str
    classes: list = field(default_factory=list)
    dataset: str = "toy"
    task: str = "t"


@pytest.fixture()
def tasks() -> list[Task]:
    return [Task("toy.ml", "multilabel", ["a", "b", "c"]),
            Task("toy.mc", "multiclass", ["x", "y"]),
            Task("toy.reg", "regression", [])]


@pytest.fixture(scope="session")
def vocab_file(tmp_path_factory):
    from climb.models.encoders.text import train_wordpiece_vocab

    texts = ["no acute cardiopulmonary abnormality", "heart size is normal",
             "small left pleural effusion", "the lungs are clear bilaterally"] * 5
    return train_wordpiece_vocab(texts, tmp_path_factory.mktemp("tok"), vocab_size=120)
