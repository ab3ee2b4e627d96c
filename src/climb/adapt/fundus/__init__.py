"""Colour fundus photograph adapters (diabetic retinopathy grading)."""
