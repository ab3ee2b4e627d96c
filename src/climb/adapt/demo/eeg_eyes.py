"""demo_eeg_eyes: EyesOpenShut (UCI EEG Eye State as a UEA problem), 14-channel Emotiv EEG."""

from __future__ import annotations

from climb.adapt.demo.uea_eeg import UeaEegAdapter

# Emotiv EPOC channel order of the UCI EEG Eye State data (its ARFF attribute order).
EMOTIV_CHANNELS = [
    "AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4",
]  # fmt: skip


class EegEyesAdapter(UeaEegAdapter):
    name = "demo_eeg_eyes"
    problem = "EyesOpenShut"
    task = "eyes"
    fs = 128.0
    channel_names = EMOTIV_CHANNELS
    subject = "eeg-eye-state-subject1"


ADAPTER = EegEyesAdapter
