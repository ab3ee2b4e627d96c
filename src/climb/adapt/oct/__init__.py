"""Optical coherence tomography adapters (OCT2017): one record per B-scan image."""
