"""Graph adapters: brain connectivity networks (ABIDE, ABCD, PPMI), protein graphs
(PROTEINS, TU format) and the PPI protein-protein interaction graphs."""
