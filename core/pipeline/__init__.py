"""The computation: preprocessing fits, sampling, tiling, training, inference, metrics."""
