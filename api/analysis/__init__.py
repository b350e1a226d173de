"""api.analysis: buffer, overlay, nearest, impact and coverage, in metres on the WGS84 spheroid."""
