"""Files: CRS and grids, warping onto the HSI grid, raster stacks, writers, labels, model files, projects."""
