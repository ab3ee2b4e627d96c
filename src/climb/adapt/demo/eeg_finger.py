"""demo_eeg_finger: FingerMovements (BCI Competition II set IV), 28-channel EEG at 100 Hz."""

from __future__ import annotations

from climb.adapt.demo.uea_eeg import UeaEegAdapter

# Channel order given in FingerMovements.txt.
FINGER_CHANNELS = [
    "F3", "F1", "Fz", "F2", "F4", "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3",
    "C1", "Cz", "C2", "C4", "C6", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6", "O1", "O2",
]  # fmt: skip


class EegFingerAdapter(UeaEegAdapter):
    name = "demo_eeg_finger"
    problem = "FingerMovements"
    task = "hand"
    fs = 100.0
    channel_names = FINGER_CHANNELS
    subject = "bci2-iv-subject1"


ADAPTER = EegFingerAdapter
