"""How ``pbmc68k_reduced_current.h5ad`` was written (run once, NOT by the tests).

anndata needs pandas < 3 and climb is on pandas 3, so this ran in a separate environment
(``python -m venv /tmp/adv && /tmp/adv/bin/pip install anndata 'pandas<3'``; anndata 0.12.19):
the first 120 cells of scanpy's ``10x_pbmc68k_reduced.h5ad`` (anndata's pre-0.7 layout)
re-written in anndata's current on-disk layout, so the tests read both layouts from files
anndata itself wrote. ``X`` = the log-normalised ``raw.X`` as CSR; layer ``scaled`` = the
file's dense scaled ``X``; ``raw`` kept; ``obs`` keeps ``bulk_labels``, ``phase``,
``n_genes`` and adds ``donor``, a made-up round-robin ``d0``..``d3`` assignment (the real
cells come from one donor; the column only exercises the donor-level split).
"""

import sys

import anndata
import numpy as np
import scipy.sparse as sp

source, target = sys.argv[1], sys.argv[2]
full = anndata.read_h5ad(source)[:120].copy()
obs = full.obs[["bulk_labels", "phase", "n_genes"]].copy()
obs["donor"] = [f"d{i % 4}" for i in range(len(obs))]
out = anndata.AnnData(X=sp.csr_matrix(full.raw.X, dtype=np.float32), obs=obs,
                      var=full.var[["n_counts", "highly_variable"]].copy(),
                      layers={"scaled": np.asarray(full.X, dtype=np.float32)})
out.raw = full.raw.to_adata()
out.write_h5ad(target, compression="gzip")
