"""GB 18218-2018: Table 1 lookups, categories, α, β, identification (S) and grading (R)."""

from __future__ import annotations

import pytest

from api.grading import gb18218
from api.grading.gb18218 import Holding, evaluate


def test_table_1_is_complete_and_numbered() -> None:
    """85 named chemicals, numbered 1..85, every Q positive."""
    assert [s.no for s in gb18218.TABLE_1] == list(range(1, 86))
    assert all(s.q_tonnes > 0 for s in gb18218.TABLE_1)
    assert len(gb18218.TABLE_2) == 24


@pytest.mark.parametrize(
    ("name", "no", "q"),
    [
        ("氯", 12, 5), ("液氯", 12, 5), ("7782-50-5", 12, 5), ("Chlorine", 12, 5), ("Cl2", 12, 5),
        ("甲醇", 65, 500), ("methanol", 65, 500), ("光气", 6, 0.3), ("液化石油气", 52, 50),
        ("74-98-6", 52, 50), ("氧(压缩的或液化的)", 56, 200), ("硝酸胍", 82, 50),
        ("异氰酸甲酯", 30, 0.75), ("6484-52-2", 43, 5), ("一氧化碳", 13, 20),
    ],
)  # fmt: skip
def test_lookup_by_name_alias_cas_english_or_formula(name: str, no: int, q: float) -> None:
    """Chinese names, aliases, CAS numbers, English names and formulas find their row."""
    found = gb18218.find(name)
    assert found is not None and (found.no, found.q_tonnes) == (no, q)
    assert gb18218.find("unobtainium") is None


def test_worked_example_b_depot() -> None:
    """GRADING.md B: Cl2 20 t (Q 5, β 4) + methanol 800 t (Q 500, β 1), α 2.0 -> R 35.2, 三级."""
    r = evaluate([Holding("氯", 20), Holding("甲醇", 800)], people_within_500m=150)
    assert [(line.threshold_tonnes, line.beta, line.ratio) for line in r.lines] == [
        (5, 4, 4.0),
        (500, 1.0, 1.6),
    ]
    assert (r.s, r.alpha, r.is_major, r.grade) == (5.6, 2.0, True, 3)
    assert r.r == pytest.approx(35.2)


def test_below_threshold_is_not_a_major_hazard_source() -> None:
    """S < 1: not a major hazard source, no grade."""
    r = evaluate([Holding("甲醇", 200), Holding("乙醇", 200)], people_within_500m=500)
    assert r.s == pytest.approx(0.8) and not r.is_major and r.grade is None and r.r is None


@pytest.mark.parametrize(
    ("people", "alpha"), [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5),
                          (99, 1.5), (100, 2.0), (10_000, 2.0)],
)  # fmt: skip
def test_alpha_bands(people: int, alpha: float) -> None:
    """α by people outside the plant within 500 m (Table 5)."""
    assert gb18218.alpha(people) == alpha


@pytest.mark.parametrize(("r", "grade"), [(9.99, 4), (10, 3), (49.9, 3), (50, 2), (99.9, 2),
                                          (100, 1)])  # fmt: skip
def test_grades_by_r(r: float, grade: int) -> None:
    """一级 R >= 100; 二级 50-100; 三级 10-50; 四级 < 10 (Table 6)."""
    assert gb18218.grade_of(r) == grade


def test_beta_from_tables_3_and_4() -> None:
    """Named toxic gases take Table 3 β; others their category's β (Table 4), else 1."""
    assert gb18218.line_for(Holding("phosgene", 1)).beta == 20
    assert gb18218.line_for(Holding("硫化氢", 1)).beta == 5
    assert gb18218.line_for(Holding("氢", 1, "W2")).beta == 1.5  # named, β by category
    hydrogen = gb18218.line_for(Holding("氢", 1))
    assert (hydrogen.beta, hydrogen.beta_basis) == (1.0, "default")
    custom = gb18218.line_for(Holding("some toxic gas", 10, "J1"))
    assert (custom.threshold_tonnes, custom.beta, custom.basis) == (5, 4, "table2:J1")
    assert gb18218.line_for(Holding("explosive", 1, "W1.2")).beta == 2
    with pytest.raises(ValueError, match="Table 2 category"):
        gb18218.line_for(Holding("unknown liquid", 1))
    with pytest.raises(ValueError, match="unknown GB 18218 category"):
        gb18218.line_for(Holding("x", 1, "W99"))
