"""CPSC 2018: 6,877 12-lead ECGs (500 Hz, 6-60 s) of the China Physiological Signal Challenge.

The Challenge 2020/2021 release (``WFDB_CPSC2018.tar.gz``, records A0001-A6877) with its nine
classes recoded as SNOMED-CT ``#Dx`` codes; layout and labels: :mod:`climb.adapt.ecg.challenge2020`.
"""

from __future__ import annotations

from climb.adapt.ecg.challenge2020 import ChallengeAdapter


class CPSC2018Adapter(ChallengeAdapter):
    name = "cpsc2018"
    site = "China Physiological Signal Challenge 2018 (11 hospitals, China)"


ADAPTER = CPSC2018Adapter
