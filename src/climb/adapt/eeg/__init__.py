"""EEG dataset adapters: the TUH corpora (TUAB, TUEV) and the IIIC patterns (HMS release).

Signals are read through :mod:`climb.read` and standardized with
:func:`climb.read.standardize.standardize_eeg` (uV, 200 Hz; the TUH corpora in the 22-channel
bipolar TCP montage), then cut into fixed windows (10 s; TUEV 5 s around each event).
"""
