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
    """docs/grading-model.md B: Cl2 20 t (Q 5, β 4) + methanol 800 t (Q 500, β 1), α 2.0 -> R
    35.2, 三级."""
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
    """Named toxic gases take Table 3 β; other named substances their class's β (Table 4)."""
    assert gb18218.line_for(Holding("phosgene", 1)).beta == 20
    assert gb18218.line_for(Holding("硫化氢", 1)).beta == 5
    assert gb18218.line_for(Holding("氢", 1, "W2")).beta == 1.5
    # hydrogen is a flammable gas (W2): β 1.5 without being told (it was 1.0, "default")
    hydrogen = gb18218.line_for(Holding("氢", 1))
    assert (hydrogen.beta, hydrogen.beta_basis) == (1.5, "table4:W2")
    # a named substance's own class wins over a category the caller passes
    assert gb18218.line_for(Holding("氢", 1, "W5.4")).beta == 1.5
    for name, beta, basis in (
        ("液化石油气", 1.5, "table4:W2"), ("甲烷", 1.5, "table4:W2"), ("乙炔", 1.5, "table4:W2"),
        ("TNT", 2, "table4:W1.1"), ("乙醚", 1.5, "table4:W5.1"), ("甲醇", 1, "table4:W5.3"),
        ("二氟化氧", 4, "table4:J1"), ("一氧化碳", 2, "table3"), ("三氧化硫", 1, "table4:other"),
    ):  # fmt: skip
        line = gb18218.line_for(Holding(name, 1))
        assert (line.beta, line.beta_basis) == (beta, basis), name
    custom = gb18218.line_for(Holding("some toxic gas", 10, "J1"))
    assert (custom.threshold_tonnes, custom.beta, custom.basis) == (5, 4, "table2:J1")
    assert gb18218.line_for(Holding("explosive", 1, "W1.2")).beta == 2
    with pytest.raises(ValueError, match="Table 2 category"):
        gb18218.line_for(Holding("unknown liquid", 1))
    with pytest.raises(ValueError, match="unknown GB 18218 category"):
        gb18218.line_for(Holding("x", 1, "W99"))


def test_every_table_1_row_has_a_hazard_class() -> None:
    """85 rows, each with a Table 2 class (or none of them, named) and a β from Table 3 or 4."""
    assert len(gb18218.TABLE_1) == 85 == len(gb18218.HAZARD_CLASS)
    for row in gb18218.TABLE_1:
        assert row.hazard_class is None or row.hazard_class in gb18218.TABLE_2, row
        beta, basis = gb18218.named_beta(row)
        assert basis == "table3" or basis == f"table4:{row.hazard_class or 'other'}"
        assert beta >= 1
    # the rows Table 1 groups as flammable gases are W2, explosives W1.x
    assert {gb18218.TABLE_1[n - 1].hazard_class for n in range(47, 56)} == {"W2"}
    assert all((gb18218.TABLE_1[n - 1].hazard_class or "").startswith("W1") for n in range(31, 40))
    # only the one row no class fits goes without
    assert [r.no for r in gb18218.TABLE_1 if r.hazard_class is None] == [26]


def test_carbon_monoxide_is_the_coal_gas_row() -> None:
    """CO has no row of its own: row 13 (煤气, CO and its mixtures), Q 20 t; β 2 (Table 3)."""
    co = gb18218.find("一氧化碳")
    assert co is not None and (co.no, co.q_tonnes) == (13, 20)
    assert gb18218.standard_q_beta("一氧化碳", None, None) == (20, 2, "table1:13")
    assert gb18218.standard_q_beta("anything", "630-08-0", None) == (20, 2, "table1:13")
    # full-width brackets as Chinese files write them
    assert gb18218.standard_q_beta("氯化氢（无水）", None, None) == (20, 3, "table1:11")
    assert gb18218.standard_q_beta("二甲苯", "1330-20-7", "W5.4") == (5000, 1, "table2:W5.4")
    with pytest.raises(ValueError, match="Table 2 category"):
        gb18218.standard_q_beta("二甲苯", "1330-20-7", None)
    with pytest.raises(ValueError, match="unknown GB 18218 category"):
        gb18218.standard_q_beta("二甲苯", None, "易燃液体")
