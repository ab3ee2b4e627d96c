"""Mammography adapters (VinDr-Mammo, CBIS-DDSM, CMMD): one record per image, decoded through
:mod:`climb.adapt.imaging` into the standard uint8 image, with view and laterality in meta."""
