"""api.tiles: vector tiles (MVT) of every layer and the composite one map, TileJSON and style."""
