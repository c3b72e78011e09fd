"""The network: NCGLF2, its native CPU kernels, the fitted input transform, the reference checkpoint."""
