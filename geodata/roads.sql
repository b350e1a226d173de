-- geodata/roads.sql: the demo city's road network (demo-synthetic), generated in SQL into
-- the temporary table road_input that api.routing.build turns into `roads` + `road_vertices`.
--
-- A lattice of 100 m around the Bell Tower (108.9423 E, 34.2610 N), in blocks of 16 x 16
-- lattice steps (1.6 km). Each block keeps every k-th row and column, k growing with the
-- distance from the centre: 1 (100 m: the old city inside the walls and up to the 2nd
-- ring), 2 (200 m: to the 3rd ring), 4 (400 m: suburbs to 24 km), 16 (1.6 km: rural
-- roads over the rest of the 13 districts). A block's bottom row and left column take the
-- finer step of the two blocks they separate, so every street that ends at a block edge
-- ends at a vertex: the lattice is noded by construction (no crossing without a vertex).
-- Classes: the two axes are trunk radials (长安路 / 东西大街), the city-wall road (环城路)
-- and every 16th line primary, every 8th secondary, every 4th tertiary, the rest local
-- streets; the 2nd and 3rd rings and four diagonal expressways from the 3rd ring's corners
-- are motorways. Old-city lanes alternate one-way; a few local streets are closed.
-- Only edges whose midpoint lies in a district are kept.
CREATE TEMP TABLE demo_frame ON COMMIT DROP AS
SELECT 108.9423::float8 AS lon0, 34.2610::float8 AS lat0,
       100.0 / (111320.0 * cos(radians(34.2610))) AS dx,
       100.0 / 110574.0 AS dy;

CREATE TEMP TABLE demo_area ON COMMIT DROP AS
SELECT ST_Subdivide(geom, 64) AS geom FROM districts;
CREATE INDEX ON demo_area USING gist (geom);

-- blocks (bi, bj) that touch a district, with their step
CREATE TEMP TABLE demo_blocks ON COMMIT DROP AS
WITH b AS (
    SELECT bi, bj,
           greatest(abs(bi * 16 + 8), abs(bj * 16 + 8)) * 100 AS cheb
      FROM generate_series(-80, 56) bi, generate_series(-42, 36) bj
)
SELECT b.bi, b.bj,
       CASE WHEN b.cheb < 4800 THEN 1 WHEN b.cheb < 9600 THEN 2
            WHEN b.cheb < 24000 THEN 4 ELSE 16 END AS step
  FROM b, demo_frame f
 WHERE EXISTS (SELECT 1 FROM demo_area a WHERE ST_Intersects(a.geom, ST_MakeEnvelope(
           f.lon0 + b.bi * 16 * f.dx, f.lat0 + b.bj * 16 * f.dy,
           f.lon0 + (b.bi + 1) * 16 * f.dx, f.lat0 + (b.bj + 1) * 16 * f.dy, 4326)));
CREATE UNIQUE INDEX ON demo_blocks (bi, bj);

-- lattice segments: (i, j) -> (i + di, j + dj) with di, dj in steps
CREATE TEMP TABLE demo_segments ON COMMIT DROP AS
WITH rows_ AS (
    -- horizontal lines of each block: r = 0 with the finer step of the block below
    SELECT b.bi, b.bj, r,
           CASE WHEN r = 0 THEN least(b.step, coalesce(n.step, b.step)) ELSE b.step END AS k
      FROM demo_blocks b
      LEFT JOIN demo_blocks n ON n.bi = b.bi AND n.bj = b.bj - 1
     CROSS JOIN LATERAL generate_series(0, 15, b.step) r
), cols AS (
    SELECT b.bi, b.bj, c,
           CASE WHEN c = 0 THEN least(b.step, coalesce(n.step, b.step)) ELSE b.step END AS k
      FROM demo_blocks b
      LEFT JOIN demo_blocks n ON n.bi = b.bi - 1 AND n.bj = b.bj
     CROSS JOIN LATERAL generate_series(0, 15, b.step) c
)
SELECT bi * 16 + s AS i, bj * 16 + r AS j, k AS di, 0 AS dj, 'h' AS dir
  FROM rows_ CROSS JOIN LATERAL generate_series(0, 16 - k, k) s
UNION ALL
SELECT bi * 16 + c, bj * 16 + s, 0, k, 'v'
  FROM cols CROSS JOIN LATERAL generate_series(0, 16 - k, k) s
UNION ALL
-- four diagonal expressways from the 3rd ring's corners (+-84, +-84) outwards
SELECT sx * m, sy * m, sx * k, sy * k, 'd'
  FROM (VALUES (1, 1), (1, -1), (-1, 1), (-1, -1)) AS q(sx, sy)
 CROSS JOIN LATERAL (
    -- the block's step: 2 to 9.6 km, 4 to 24 km, 16 beyond (a vertex wherever it crosses)
    SELECT m, k
      FROM generate_series(84, 796, 2) m
     CROSS JOIN LATERAL (SELECT CASE WHEN m < 96 THEN 2 WHEN m < 240 THEN 4 ELSE 16 END) AS z(k)
     WHERE m % k = 0) d;

INSERT INTO road_input (code, name, road_class, oneway, closed, geom)
SELECT 'RD-' || s.dir || '-' || s.i || '_' || s.j AS code, c.name, k.cls, c.oneway,
       c.closed,
       CASE WHEN c.flip THEN ST_Reverse(g.geom) ELSE g.geom END
  FROM demo_segments s
 CROSS JOIN demo_frame f
 CROSS JOIN LATERAL (SELECT
        -- the line's own index (the row for E-W lines, the column for N-S ones)
        CASE s.dir WHEN 'h' THEN s.j WHEN 'v' THEN s.i END AS line,
        abs(s.i) <= 21 AND abs(s.j) <= 13 AND abs(s.i + s.di) <= 21
            AND abs(s.j + s.dj) <= 13 AS old_city,
        greatest(abs(s.i), abs(s.j), abs(s.i + s.di), abs(s.j + s.dj)) AS cheb) l
 CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakeLine(
        ST_MakePoint(f.lon0 + s.i * f.dx, f.lat0 + s.j * f.dy),
        ST_MakePoint(f.lon0 + (s.i + s.di) * f.dx, f.lat0 + (s.j + s.dj) * f.dy)), 4326) AS geom) g
 CROSS JOIN LATERAL (SELECT
        CASE
          WHEN s.dir = 'd' THEN 'motorway'
          -- the 2nd ring (+-42) and the 3rd ring (+-84), on the square they draw
          WHEN l.line IN (42, -42, 84, -84)
               AND greatest(abs(s.i), abs(s.j), abs(s.i + s.di), abs(s.j + s.dj)) = abs(l.line)
               THEN 'motorway'
          -- the city-wall road around the old city
          WHEN ((s.dir = 'h' AND abs(s.j) = 13 AND abs(s.i) <= 21 AND abs(s.i + s.di) <= 21)
             OR (s.dir = 'v' AND abs(s.i) = 21 AND abs(s.j) <= 13 AND abs(s.j + s.dj) <= 13))
               THEN 'primary'
          WHEN l.line = 0 THEN CASE WHEN l.old_city THEN 'primary' ELSE 'trunk' END
          WHEN l.cheb > 240 THEN 'unclassified'
          WHEN l.line % 16 = 0 THEN 'primary'
          WHEN l.line % 8 = 0 THEN 'secondary'
          WHEN l.line % 4 = 0 THEN 'tertiary'
          ELSE 'residential'
        END AS cls) k
 CROSS JOIN LATERAL (SELECT
        CASE
          WHEN s.dir = 'd' THEN '绕城放射高速' || CASE WHEN s.i > 0 THEN '东' ELSE '西' END
                                 || CASE WHEN s.j > 0 THEN '北' ELSE '南' END || '线'
          WHEN k.cls = 'motorway' AND abs(l.line) = 42 THEN '二环路'
          WHEN k.cls = 'motorway' THEN '三环路'
          WHEN k.cls = 'primary' AND l.old_city AND l.line <> 0 THEN '环城路'
          WHEN l.line = 0 AND s.dir = 'h' THEN '东西大街'
          WHEN l.line = 0 THEN '长安路'
          WHEN s.dir = 'h' THEN '纬' || (l.line + 1000) || '路'
          ELSE '经' || (l.line + 1000) || '路'
        END AS name,
        -- old-city lanes: odd lines one-way, alternating direction
        (k.cls = 'residential' AND l.old_city AND l.line % 2 <> 0) AS oneway,
        (k.cls = 'residential' AND l.old_city AND l.line % 2 <> 0 AND l.line % 4 IN (3, -1))
            AS flip,
        -- a few closures (road works)
        (k.cls = 'residential' AND NOT l.old_city
         AND ((s.i * 7919 + s.j * 104729) % 2999 + 2999) % 2999 = 17) AS closed) c
 WHERE EXISTS (SELECT 1 FROM demo_area a
                WHERE ST_Intersects(a.geom, ST_LineInterpolatePoint(g.geom, 0.5)));
