"""Histopathology tile and patch adapters."""
