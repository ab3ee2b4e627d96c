"""Georgia 12-lead ECG Challenge database: 10,344 10-s ECGs (500 Hz) from Emory, Atlanta.

Released for the PhysioNet/CinC Challenge 2020 (``WFDB_Ga.tar.gz``, records E00001-E10344);
layout and labels: :mod:`climb.adapt.ecg.challenge2020`.
"""

from __future__ import annotations

from climb.adapt.ecg.challenge2020 import ChallengeAdapter


class GeorgiaAdapter(ChallengeAdapter):
    name = "georgia"
    site = "Emory University Hospital, Atlanta, Georgia, USA"


ADAPTER = GeorgiaAdapter
