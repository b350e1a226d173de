"""api.queries: classified risk queries: the layer catalogue, feature pages, units, statistics."""
