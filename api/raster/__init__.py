"""api.raster: raster surfaces (the risk density, an imported population grid) through titiler."""
