"""Ultrasound image adapters (BUSI): one record per image."""
