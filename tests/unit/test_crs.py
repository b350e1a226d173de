"""api.crs: GCJ-02 / BD-09 against published pairs, round trips, and CGCS2000 Gauss-Krüger zones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from api import crs as C
from api.errors import BadRequest

# googollee/eviltransform, python/test.py (TESTS: wgsLat, wgsLng, gcjLat, gcjLng):
# https://github.com/googollee/eviltransform/blob/master/python/test.py
EVILTRANSFORM_WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

# wandergis/coordtransform, test/app.js, all from the input (116.404, 39.915):
# https://github.com/wandergis/coordtransform/blob/master/test/app.js
COORDTRANSFORM_INPUT = (116.404, 39.915)
COORDTRANSFORM_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
COORDTRANSFORM_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
COORDTRANSFORM_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
# coordtransform's gcj02towgs84 is the one-step approximation (2*g - f(g))
COORDTRANSFORM_GCJ02_TO_WGS84_ONE_STEP = (116.39775550083061, 39.91359571849836)

# Alibaba Cloud address purification, TransferCoord example (6 decimals), from GCJ02
# 120.026268,30.279164: BD09 120.032768,30.285238 and WGS84 120.021519,30.281543.
# https://help.aliyun.com/zh/address-purification/addrpapi/developer-reference/coordinate-system-conversion
ALIYUN_GCJ02 = (120.026268, 30.279164)
ALIYUN_BD09 = (120.032768, 30.285238)
ALIYUN_WGS84 = (120.021519, 30.281543)


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Local equirectangular distance, fine at metre scale."""
    dx = (lon1 - lon2) * 111_320.0 * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat1 - lat2) * 110_574.0
    return math.hypot(dx, dy)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_WGS_GCJ)
def test_wgs84_to_gcj02_matches_eviltransform(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    """The forward offset reproduces eviltransform's published pairs to 1e-9 degree."""
    lon, lat = C.wgs84_to_gcj02(wlon, wlat)
    assert float(lon) == pytest.approx(glon, abs=1e-9)
    assert float(lat) == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_WGS_GCJ)
def test_gcj02_to_wgs84_inverts_eviltransform_pairs(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    """The iterative inverse brings the published GCJ-02 point back to its WGS84 source."""
    lon, lat = C.gcj02_to_wgs84(glon, glat)
    assert float(lon) == pytest.approx(wlon, abs=1e-8)
    assert float(lat) == pytest.approx(wlat, abs=1e-8)


def test_coordtransform_published_pairs() -> None:
    """wandergis/coordtransform's example outputs (forward ones exact, inverses as stated)."""
    x, y = COORDTRANSFORM_INPUT
    lon, lat = C.wgs84_to_gcj02(x, y)
    assert (float(lon), float(lat)) == pytest.approx(COORDTRANSFORM_WGS84_TO_GCJ02, abs=1e-9)
    lon, lat = C.gcj02_to_bd09(x, y)
    assert (float(lon), float(lat)) == pytest.approx(COORDTRANSFORM_GCJ02_TO_BD09, abs=1e-9)
    # Their BD-09 -> GCJ-02 is the closed-form approximation; ours is exact: they agree to
    # about 5e-7 degree (5 cm), and ours maps forward to the input exactly.
    lon, lat = C.bd09_to_gcj02(x, y)
    assert (float(lon), float(lat)) == pytest.approx(COORDTRANSFORM_BD09_TO_GCJ02, abs=1e-6)
    back = C.gcj02_to_bd09(lon, lat)
    assert (float(back[0]), float(back[1])) == pytest.approx((x, y), abs=1e-10)
    # Their GCJ-02 -> WGS84 is one step; ours differs by ~6 cm and round-trips exactly.
    lon, lat = C.gcj02_to_wgs84(x, y)
    one_step = COORDTRANSFORM_GCJ02_TO_WGS84_ONE_STEP
    assert 0.01 < _metres(float(lon), float(lat), *one_step) < 0.2
    back = C.wgs84_to_gcj02(lon, lat)
    assert (float(back[0]), float(back[1])) == pytest.approx((x, y), abs=1e-10)


def test_aliyun_published_pair() -> None:
    """Alibaba Cloud's GCJ-02 -> BD-09 matches to its 6 decimals; its WGS84 is the one-step one."""
    bx, by = C.gcj02_to_bd09(*ALIYUN_GCJ02)
    assert (round(float(bx), 6), round(float(by), 6)) == ALIYUN_BD09
    wx, wy = C.gcj02_to_wgs84(*ALIYUN_GCJ02)
    # the vendor's answer equals the one-step approximation to 6 decimals ...
    gx, gy = C.wgs84_to_gcj02(*ALIYUN_GCJ02)
    one_step = (2 * ALIYUN_GCJ02[0] - float(gx), 2 * ALIYUN_GCJ02[1] - float(gy))
    assert (round(one_step[0], 6), round(one_step[1], 6)) == ALIYUN_WGS84
    # ... which misses the exact inverse by 1-2 m, the known error of the shortcut
    assert 1.0 < _metres(float(wx), float(wy), *ALIYUN_WGS84) < 2.5
    back = C.wgs84_to_gcj02(wx, wy)
    assert _metres(float(back[0]), float(back[1]), *ALIYUN_GCJ02) < 1e-4


def _metres_max(lon: np.ndarray, lat: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> float:
    dx = (lon2 - lon) * 111_320.0 * np.cos(np.radians(lat))
    return float(np.hypot(dx, (lat2 - lat) * 110_574.0).max())


def test_round_trips_over_china_are_float_rounding() -> None:
    """WGS84 -> GCJ-02 -> WGS84 and WGS84 -> BD-09 -> WGS84 over a random grid of China:
    below 1e-13 degree (float64 rounding, docs/crs.md) and 1e-8 m (README: below 1e-6 m)."""
    rng = np.random.default_rng(7)
    lon = rng.uniform(73.0, 135.0, 20_000)
    lat = rng.uniform(18.0, 53.0, 20_000)
    glon, glat = C.wgs84_to_gcj02(lon, lat)
    offset = np.hypot(glon - lon, glat - lat)
    assert offset.min() > 1e-4  # every point really moved (tens to hundreds of metres)
    wlon, wlat = C.gcj02_to_wgs84(glon, glat)
    assert max(np.abs(wlon - lon).max(), np.abs(wlat - lat).max()) < 1e-13
    assert _metres_max(lon, lat, wlon, wlat) < 1e-8
    blon, blat = C.wgs84_to_bd09(lon, lat)
    rlon, rlat = C.bd09_to_wgs84(blon, blat)
    assert max(np.abs(rlon - lon).max(), np.abs(rlat - lat).max()) < 1e-13
    assert _metres_max(lon, lat, rlon, rlat) < 1e-8
    # BD-09 <-> GCJ-02 directly
    g2lon, g2lat = C.bd09_to_gcj02(*C.gcj02_to_bd09(glon, glat))
    assert max(np.abs(g2lon - glon).max(), np.abs(g2lat - glat).max()) < 1e-13
    assert _metres_max(glon, glat, g2lon, g2lat) < 1e-8


def test_no_gcj_offset_outside_china() -> None:
    """Outside the formula's China box GCJ-02 is WGS84, both ways."""
    lon = np.array([2.35, -74.0, 151.2])
    lat = np.array([48.86, 40.7, -33.87])
    for fn in (C.wgs84_to_gcj02, C.gcj02_to_wgs84):
        out_lon, out_lat = fn(lon, lat)
        assert np.array_equal(out_lon, lon)
        assert np.array_equal(out_lat, lat)


def test_nan_passes_through() -> None:
    """NaN coordinates stay NaN (the importer rejects them) and do not stall the iteration."""
    lon, lat = C.gcj02_to_wgs84(np.array([np.nan, 108.9]), np.array([34.2, np.nan]))
    assert np.isnan(lon[0]) and np.isnan(lat[1])


def _meridian_arc_grs80(lat_deg: float) -> float:
    """Meridian arc length on GRS80 (the CGCS2000 ellipsoid), Helmert's series."""
    a = 6378137.0
    f = 1 / 298.257222101
    n = f / (2 - f)
    phi = math.radians(lat_deg)
    return (
        a
        / (1 + n)
        * (
            (1 + n**2 / 4 + n**4 / 64) * phi
            - 1.5 * (n - n**3 / 8) * math.sin(2 * phi)
            + 15 / 16 * (n**2 - n**4 / 4) * math.sin(4 * phi)
            - 35 / 48 * n**3 * math.sin(6 * phi)
            + 315 / 512 * n**4 * math.sin(8 * phi)
        )
    )


@pytest.mark.parametrize(
    ("code", "central_meridian", "false_easting"),
    [
        ("EPSG:4545", 108.0, 500_000.0),  # CGCS2000 3-degree GK CM 108E (Xi'an)
        ("4524", 108.0, 36_500_000.0),  # 3-degree GK zone 36, zone number in the easting
        ("epsg:4497", 111.0, 19_500_000.0),  # 6-degree GK zone 19
        ("EPSG:4547", 114.0, 500_000.0),  # 3-degree GK CM 114E
    ],
)
def test_gauss_kruger_central_meridian(
    code: str, central_meridian: float, false_easting: float
) -> None:
    """On the central meridian the northing is the GRS80 meridian arc: independent of PROJ."""
    crs = C.parse_crs(code)
    assert crs.kind == "proj"
    lats = np.array([30.0, 34.2625, 38.5])
    northing = np.array([_meridian_arc_grs80(v) for v in lats])
    lon, lat = crs.to_wgs84(np.full(3, false_easting), northing)
    assert np.abs(lon - central_meridian).max() < 1e-9
    assert np.abs(lat - lats).max() < 1e-8


def _kruger_grs80(lon: float, lat: float, lon0: float, false_easting: float) -> tuple[float, float]:
    """Transverse Mercator on GRS80 (k0 = 1) by Krüger's n-series to n^4 (Karney 2011, eq. 35):
    well below a micrometre within a few degrees of the central meridian. Independent of PROJ."""
    a, f = 6_378_137.0, 1 / 298.257222101
    n = f / (2 - f)
    big_a = a / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    alpha = (
        n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16 + 41 * n**4 / 180,
        13 * n**2 / 48 - 3 * n**3 / 5 + 557 * n**4 / 1440,
        61 * n**3 / 240 - 103 * n**4 / 140,
        49561 * n**4 / 161280,
    )
    phi, dlam = math.radians(lat), math.radians(lon - lon0)
    c = 2 * math.sqrt(n) / (1 + n)
    t = math.sinh(math.atanh(math.sin(phi)) - c * math.atanh(c * math.sin(phi)))
    xi = math.atan2(t, math.cos(dlam))
    eta = math.atanh(math.sin(dlam) / math.sqrt(1 + t * t))
    east = eta + sum(al * math.cos(2 * j * xi) * math.sinh(2 * j * eta)
                     for j, al in enumerate(alpha, 1))  # fmt: skip
    north = xi + sum(al * math.sin(2 * j * xi) * math.cosh(2 * j * eta)
                     for j, al in enumerate(alpha, 1))  # fmt: skip
    return false_easting + big_a * east, big_a * north


def test_gauss_kruger_off_meridian_matches_an_independent_series_to_the_mm() -> None:
    """Xi'an's Bell Tower in EPSG:4545 (0.94 degree east of CM 108E): PROJ's easting and
    northing equal Krüger's series to 1 mm, and onemap's inverse returns to 1e-9 degree."""
    import pyproj

    fwd = pyproj.Transformer.from_crs(4490, 4545, always_xy=True)
    e, n = fwd.transform(108.9423, 34.2610)
    ref_e, ref_n = _kruger_grs80(108.9423, 34.2610, 108.0, 500_000.0)
    assert abs(e - ref_e) < 1e-3 and abs(n - ref_n) < 1e-3, (e - ref_e, n - ref_n)
    assert 586_000 < e < 587_000  # really off the meridian (86 km east)
    lon, lat = C.parse_crs("EPSG:4545").to_wgs84(e, n)
    assert float(lon) == pytest.approx(108.9423, abs=1e-9)
    assert float(lat) == pytest.approx(34.2610, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("EPSG:4326", "wgs84", "EPSG:4326"),
        ("4326", "wgs84", "EPSG:4326"),
        ("OGC:CRS84", "wgs84", "EPSG:4326"),
        ("wgs84", "wgs84", "EPSG:4326"),
        ("4490", "proj", "EPSG:4490"),
        ("epsg:4547", "proj", "EPSG:4547"),
        ("GCJ-02", "gcj02", "GCJ-02"),
        ("gcj02", "gcj02", "GCJ-02"),
        ("BD-09", "bd09", "BD-09"),
        ("bd09", "bd09", "BD-09"),
        ("+proj=tmerc +lat_0=0 +lon_0=108 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80", "proj", ""),
    ],
)
def test_parse_crs_accepts(text: str, kind: str, name: str) -> None:
    """EPSG codes (with or without the prefix), PROJ strings and the web-map aliases."""
    crs = C.parse_crs(text)
    assert crs.kind == kind
    if name:
        assert crs.name == name


def test_parse_crs_wkt() -> None:
    """WKT text is accepted and behaves like its EPSG code."""
    import pyproj

    wkt = pyproj.CRS.from_epsg(4545).to_wkt()
    crs = C.parse_crs(wkt)
    assert crs.name == "EPSG:4545"
    a = crs.to_wgs84(586_000.0, 3_792_000.0)
    b = C.parse_crs("EPSG:4545").to_wgs84(586_000.0, 3_792_000.0)
    assert float(a[0]) == float(b[0]) and float(a[1]) == float(b[1])


@pytest.mark.parametrize(
    "text",
    ["EPSG:999999", "mars", "", "   ", "+init=epsg:4326", "/etc/passwd", "EPSG:4979x", "EPSG:5773"],
)
def test_parse_crs_rejects(text: str) -> None:
    """Unknown codes, file-like or vertical-only systems are a 400 naming the input."""
    with pytest.raises(BadRequest):
        C.parse_crs(text)


def test_transform_geometries_vectorised() -> None:
    """Points, lines and polygons move together; WGS84 input is returned untouched."""
    geoms = np.array(
        [
            shapely.Point(108.95, 34.27),
            shapely.LineString([(108.9, 34.2), (109.0, 34.3)]),
            shapely.box(108.9, 34.2, 109.0, 34.3),
        ]
    )
    gcj = C.parse_crs("gcj02")
    out = C.transform_geometries(geoms, gcj)
    coords_in = shapely.get_coordinates(geoms)
    coords_out = shapely.get_coordinates(out)
    lon, lat = C.gcj02_to_wgs84(coords_in[:, 0], coords_in[:, 1])
    assert np.array_equal(coords_out, np.column_stack([lon, lat]))
    assert list(shapely.get_type_id(out)) == [0, 1, 3]
    assert C.transform_geometries(geoms, C.WGS84) is not None
    assert shapely.equals_exact(C.transform_geometries(geoms, C.WGS84), geoms).all()
