"""Adapters of the bundled demo sets (data in :mod:`climb.demo_data`)."""
