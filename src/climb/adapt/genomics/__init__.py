"""Adapters of gene-expression datasets (GEO series matrices, Expression Atlas experiments)."""
