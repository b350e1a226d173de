"""Levels, colours and codes come from api/codes.py only: the SQL, the map style, the front end."""

from __future__ import annotations

import re

from api import codes
from api.grading import statements as sqlfiles
from api.settings import PROJECT_ROOT, Settings
from api.tiles.style import LEVEL_HEX
from tests.conftest import app_client, role_headers

LEVEL_ARRAY = re.compile(r"ARRAY\[\s*'(low|general|large|major)'")


def test_score_sql_ranks_by_the_code_table() -> None:
    """No level-name ARRAY literal in score.sql; the rendered SQL ranks by codes.LEVELS."""
    raw = (PROJECT_ROOT / "api/grading/sql/score.sql").read_text(encoding="utf-8")
    assert not LEVEL_ARRAY.search(raw)
    assert "'major'" not in raw.split("WITH p AS", 1)[1].split("count(*) FILTER")[0]
    for variant in ("all", "units"):
        text = sqlfiles.score(variant)
        assert "{{" not in text
        assert "ARRAY['low', 'general', 'large', 'major']" in text
        assert "ARRAY['blue', 'yellow', 'orange', 'red']" in text
        assert "ARRAY['grade1', 'grade2', 'compliant', 'noncompliant', 'suspended']" in text
    assert "ru.id = ANY($3::bigint[])" in sqlfiles.apply("units")
    assert "ANY($3::bigint[])" not in sqlfiles.apply("all")


def test_frontend_does_not_restate_the_codes() -> None:
    """i18n.js carries no level colours or category names of its own."""
    js = (PROJECT_ROOT / "frontend/src/i18n.js").read_text(encoding="utf-8")
    for hex_ in codes.COLOUR_HEX.values():
        assert hex_ not in js
    for name in codes.CATEGORY_NAMES_ZH.values():
        assert name not in js


async def test_ui_config_serves_the_code_table(empty_db: Settings) -> None:
    """GET /ui/config hands the front end the levels (most severe first), colours and names."""
    headers = (await role_headers(empty_db))["viewer"]
    async with app_client(empty_db) as client:
        body = (await client.get("/ui/config", headers=headers)).json()
    served = body["codes"]
    assert served["levels"] == ["major", "large", "general", "low"]
    assert (
        served["level_hex"]
        == LEVEL_HEX
        == {
            "major": "#e53935",
            "large": "#fb8c00",
            "general": "#fdd835",
            "low": "#1e88e5",
        }
    )
    assert served["level_names"]["major"] == ["重大风险", "Major"]
    assert list(served["categories"]) == list(codes.CATEGORIES)
    assert served["categories"]["gas"] == ["燃气", "Gas"]
