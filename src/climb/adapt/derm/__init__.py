"""Dermatology photograph adapters (dermoscopy, smartphone clinical photos)."""
