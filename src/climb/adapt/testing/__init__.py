"""Test-only adapters: small, real-format datasets used to exercise `prepare` and `load`."""
