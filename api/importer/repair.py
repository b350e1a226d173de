"""api.importer.repair: invalid polygons and lines repaired with ST_MakeValid, only when harmless.

A repair is kept when the result is still of the layer's kind (the polygonal
or linear part of what ST_MakeValid returns, promoted to Multi*) and its area
(or length) differs from the input's by at most REPAIR_TOLERANCE, relatively:
a self-touching ring or a repeated vertex is fixed, a bow-tie or overlapping
parts (whose meaning is a guess) are rejected.
"""

from __future__ import annotations

import asyncpg
import numpy as np
import shapely
from numpy.typing import NDArray

from api.importer.geometry import Geoms

REPAIR_TOLERANCE = 1e-6

_REPAIR = """
SELECT ord::int AS i,
       ST_AsBinary(fixed) AS wkb,
       ST_IsEmpty(fixed) AS empty,
       CASE WHEN $2 = 3 THEN ST_Area(g) ELSE ST_Length(g) END AS before,
       CASE WHEN $2 = 3 THEN ST_Area(fixed) ELSE ST_Length(fixed) END AS after
  FROM (SELECT ord, g, ST_Multi(ST_CollectionExtract(ST_MakeValid(g), $2)) AS fixed
          FROM unnest($1::bytea[]) WITH ORDINALITY AS u (wkb, ord),
               LATERAL ST_GeomFromWKB(u.wkb, 4326) AS g) r
 ORDER BY ord
"""


async def repair(
    conn: asyncpg.Connection, geoms: Geoms, mask: NDArray[np.bool_]
) -> tuple[Geoms, NDArray[np.bool_], NDArray[np.bool_]]:
    """Repair the rows in `mask`; returns the geometries, and the rows repaired and refused."""
    fixed_rows = np.zeros(geoms.n, dtype=bool)
    if not mask.any() or geoms.shapes is None:
        return geoms, fixed_rows, np.zeros(geoms.n, dtype=bool)
    idx = np.flatnonzero(mask)
    shapes = geoms.shapes[idx]
    dims = shapely.get_dimensions(shapes)
    out = geoms.shapes.copy()
    for dim, extract in ((2, 3), (1, 2)):
        sel = dims == dim
        if not sel.any():
            continue
        rows = idx[sel]
        wkbs = [bytes(b) for b in shapely.to_wkb(shapes[sel])]
        records = await conn.fetch(_REPAIR, wkbs, extract)
        for rec in records:
            row = rows[rec["i"] - 1]
            before, after = rec["before"] or 0.0, rec["after"] or 0.0
            change = abs(after - before) / before if before > 0 else float("inf")
            if not rec["empty"] and change <= REPAIR_TOLERANCE:
                out[row] = shapely.from_wkb(rec["wkb"])
                fixed_rows[row] = True
    refused = mask & ~fixed_rows
    geoms.shapes = out
    return geoms, fixed_rows, refused
