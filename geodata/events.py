"""geodata.events: hidden hazards (open, overdue, closed; all severities) and a few accidents.

Times lead up to the build's as-of date, so the last 365 days of docs/grading-model.md
have something in them. Each event is linked to its risk unit by code and
placed at it.
"""

from __future__ import annotations

from datetime import timedelta

from shapely.geometry import Point

from geodata.context import Context, Feature, iso, pick

HIDDEN_HAZARDS = 420
ACCIDENTS = 10

FINDINGS: dict[str, tuple[str, ...]] = {
    "gas": ("调压器前后压力异常未及时处置", "燃气管道腐蚀未更换", "可燃气体报警器失效"),
    "hazardous_chemicals": (
        "储罐区防火堤破损",
        "安全阀超期未检验",
        "危化品超量储存",
        "可燃气体检测报警系统故障",
    ),
    "construction": (
        "深基坑支护变形未监测",
        "塔吊安全装置失效",
        "脚手架连墙件缺失",
        "临时用电不规范",
    ),
    "crowded_place": ("安全出口堵塞", "疏散指示标志损坏", "消防通道被占用", "电动车违规充电"),
    "high_rise": ("消防水泵无法自动启动", "防火门常闭失效", "消防控制室无人值守"),
    "underground_space": ("排烟设施故障", "防汛挡水板缺失", "应急照明失效"),
    "bridge_tunnel": ("桥梁支座病害", "伸缩缝破损", "隧道排水不畅"),
    "rail_transit": ("站台屏蔽门故障", "出入口防淹设施缺失", "自动扶梯制动异常"),
    "industrial": ("有限空间作业未审批", "粉尘清扫制度未落实", "机械防护罩缺失"),
    "waterlogging_point": ("雨水篦子堵塞", "排水泵故障", "警示标志缺失"),
    "drainage": ("泵站备用电源故障", "管道淤积严重", "检查井盖缺失"),
    "power": ("电缆沟积水", "变压器油温异常", "消防器材过期"),
    "heat_supply": ("管道保温层破损", "阀门井积水", "压力表超期未检"),
    "water_supply": ("加氯间泄漏报警失效", "管网漏损", "二次供水设施未消毒"),
    "geological_hazard": ("坡体出现裂缝", "挡土墙变形", "监测设施损坏"),
}
OPEN = ("reported", "assigned", "rectifying", "verified")
SEVERITIES = ("general", "large", "major")


def hidden_hazards(ctx: Context, risk_units: list[Feature]) -> list[Feature]:
    """Hidden hazards found by inspection over the last ~half year."""
    rng = ctx.rng("hidden_hazards")
    out: list[Feature] = []
    owners = rng.choice(len(risk_units), size=HIDDEN_HAZARDS, replace=True)
    for i, ui in enumerate(owners.tolist()):
        unit = risk_units[ui]
        category = str(unit.props["category"])
        severity = pick(rng, SEVERITIES, [0.8, 0.13, 0.07])
        reported = ctx.at(float(rng.uniform(1, 180)))
        days = {"general": 7, "large": 30, "major": 60}[severity]
        due = (reported + timedelta(hours=8) + timedelta(days=days)).date()
        closed = rng.random() < 0.55 and due < ctx.as_of + timedelta(days=30)
        status = "closed" if closed else pick(rng, OPEN, [0.25, 0.3, 0.35, 0.1])
        steps = ["reported", "assigned", "rectifying", "verified", "closed"]
        reached = steps.index(status)
        t = reported
        stamps: dict[str, str | None] = {}
        for step, field in zip(
            steps[1:], ("assigned_at", "rectified_at", "verified_at", "closed_at"), strict=True
        ):
            if steps.index(step) <= reached:
                t = t + timedelta(hours=float(rng.uniform(2, 24 * days / 3)))
                t = min(t, ctx.at(0.01))
                stamps[field] = iso(t)
            else:
                stamps[field] = None
        finding = FINDINGS[category][int(rng.integers(len(FINDINGS[category])))]
        x, y = ctx.sampler.near(unit.district, unit.anchor, 40.0, rng)
        out.append(
            Feature(
                {
                    "code": f"HH{i + 1:04d}",
                    "name": f"{unit.props['name']}{finding}",
                    "district": unit.district,
                    "risk_unit_code": unit.code,
                    "severity": severity,
                    "status": status,
                    "description": f"检查发现：{finding}。",
                    "reported_at": iso(reported),
                    "due_date": due.isoformat(),
                    "assignee": str(unit.props["department"]),
                    **stamps,
                },
                Point(x, y),
            )
        )
    return out


def accidents(ctx: Context, risk_units: list[Feature]) -> list[Feature]:
    """A few accidents in the last year: mostly general, one large."""
    rng = ctx.rng("accidents")
    kinds = {
        "construction": "高处坠落事故",
        "industrial": "机械伤害事故",
        "gas": "燃气泄漏爆燃事故",
        "crowded_place": "火灾事故",
        "hazardous_chemicals": "危化品泄漏事故",
        "high_rise": "火灾事故",
    }
    pool = [u for u in risk_units if u.props["category"] in kinds]
    out: list[Feature] = []
    chosen = rng.choice(len(pool), size=ACCIDENTS, replace=False)
    grades = ["large"] + ["general"] * (ACCIDENTS - 1)
    for i, (ui, grade) in enumerate(zip(chosen.tolist(), grades, strict=True)):
        unit = pool[ui]
        what = kinds[str(unit.props["category"])]
        deaths = int(rng.integers(3, 6)) if grade == "large" else int(rng.integers(0, 3))
        injuries = int(rng.integers(0, 8))
        when = ctx.at(float(rng.uniform(5, 350)))
        x, y = ctx.sampler.near(unit.district, unit.anchor, 30.0, rng)
        out.append(
            Feature(
                {
                    "code": f"AC{i + 1:03d}",
                    "name": f"{unit.props['name']}{what}",
                    "district": unit.district,
                    "risk_unit_code": unit.code,
                    "grade": grade,
                    "occurred_at": iso(when),
                    "deaths": deaths,
                    "injuries": injuries,
                    "description": f"{what}，死亡{deaths}人，受伤{injuries}人。",
                },
                Point(x, y),
            )
        )
    return out
