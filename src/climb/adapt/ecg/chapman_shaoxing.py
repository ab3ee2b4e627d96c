"""Chapman-Shaoxing: 10,247 10-s 12-lead ECGs (500 Hz), Chapman University / Shaoxing.

The Challenge 2021 release (``WFDB_ChapmanShaoxing.tar.gz``, records JS...); layout and labels:
:mod:`climb.adapt.ecg.challenge2020`.
"""

from __future__ import annotations

from climb.adapt.ecg.challenge2020 import ChallengeAdapter


class ChapmanShaoxingAdapter(ChallengeAdapter):
    name = "chapman_shaoxing"
    site = "Chapman University / Shaoxing People's Hospital, China"


ADAPTER = ChapmanShaoxingAdapter
