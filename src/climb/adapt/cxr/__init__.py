"""Chest X-ray adapters: MIMIC-CXR-JPG, CheXpert, NIH ChestX-ray14, VinDr-CXR (multilabel
findings harmonized into the ``cxr14`` vocabulary) and the COVID-19 Radiography Database."""
