"""api.assessment.bulletin: the monthly bulletin (月通报) as PDF (weasyprint) and XLSX (openpyxl).

What it carries, all read from the store for one month: the scorecard (live, or frozen in a
snapshot: `snapshot_id`), the ranking of departments and of districts (with development
zones) by task completion (`tasks.completion`) and by overdue hidden hazards (the
supervision figures recomputed as the hazards stood at the month's end,
`sql/bulletin_hazards.sql`), bar charts
drawn as SVG here, and a map of the month's red and orange units (district outlines from
PostGIS as SVG paths, no tiles). The CJK font (Debian's fonts-wqy-microhei, found through
fontconfig) is embedded in the PDF as a subset by weasyprint.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

import asyncpg

from api.assessment import tasks
from api.codes import COLOUR_HEX, LEVEL_COLOURS, LEVEL_NAMES_ZH
from api.errors import BadRequest, NotFound
from api.sqlfiles import load
from api.timestamps import utcnow

FONT = "WenQuanYi Micro Hei"


async def gather(
    conn: asyncpg.Connection, year: int, month: str, timezone: str,
    scorecard: dict[str, Any], snapshot_id: int | None,
) -> dict[str, Any]:  # fmt: skip
    """Everything the bulletin shows, as plain data (the PDF and the XLSX are two views of it)."""
    first, last, end = tasks.month_bounds(month, timezone)
    if first.year != year:
        raise BadRequest(f"month {month} is not in {year}: ask /assessment/{first.year}/…",
                         field="month")  # fmt: skip
    now = min(utcnow(), end)
    start = datetime(first.year, first.month, 1, tzinfo=end.tzinfo)
    hazards: dict[str, list[dict[str, Any]]] = {"departments": [], "districts": []}
    for kind in ("department", "district", "zone"):
        rows = await conn.fetch(load("assessment/sql/bulletin_hazards.sql"), kind, timezone, now,
                                start)  # fmt: skip
        group = hazards["departments" if kind == "department" else "districts"]
        group.extend({"code": r["code"], "name": r["name"], "kind": r["kind"],
                      "open": r["open"], "overdue": r["overdue"], "rectified": r["rectified"],
                      "on_time": r["on_time"]} for r in rows)  # fmt: skip
    for group in hazards.values():
        group.sort(key=lambda e: (e["overdue"], e["open"], e["code"]))
        for i, e in enumerate(group):
            e["rank"] = i + 1
    outlines = await conn.fetch(load("assessment/sql/bulletin_map.sql"))
    units = [dict(r) for r in await conn.fetch(load("assessment/sql/bulletin_units.sql"), end)]
    return {
        "year": year, "month": month, "through": last.isoformat(), "snapshot": snapshot_id,
        "generated_at": utcnow().isoformat(timespec="seconds"), "scorecard": scorecard,
        "completion": await tasks.completion(conn, month, timezone), "hazards": hazards,
        "units": units, "outlines": [dict(r) for r in outlines],
    }  # fmt: skip


async def frozen_scorecard(conn: asyncpg.Connection, year: int, snapshot_id: int) -> dict[str, Any]:
    """The scorecard a snapshot froze (404 when there is no such snapshot for the year)."""
    from api.assessment import scorecard

    text = await scorecard.get_snapshot(conn, year, snapshot_id)
    if text is None:
        raise NotFound(f"no snapshot {snapshot_id} for {year}", field="snapshot")
    card: dict[str, Any] = json.loads(text)["scorecard"]
    return card


# ------------------------------------------------------------------ charts (SVG strings)


def bars(rows: list[tuple[str, Decimal, Decimal]], width: int = 640, unit: str = "") -> str:
    """A horizontal bar chart: (label, value, maximum) per row, the value printed at the end."""
    h, label_w = 18, 190
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{h * len(rows) + 6}" font-family="{FONT}" font-size="10">']  # fmt: skip
    span = width - label_w - 70
    for i, (label, value, top) in enumerate(rows):
        y = 3 + i * h
        frac = float(value / top) if top else 0.0
        colour = "#2e7d32" if frac >= 0.9999 else ("#f9a825" if frac >= 0.9 else "#c62828")
        out.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">'
                   f"{escape(label[:24])}</text>"
                   f'<rect x="{label_w}" y="{y + 2}" width="{span}" height="{h - 6}" '
                   f'fill="#eeeeee"/><rect x="{label_w}" y="{y + 2}" '
                   f'width="{span * max(0.0, min(frac, 1.0)):.1f}" height="{h - 6}" '
                   f'fill="{colour}"/><text x="{label_w + span + 6}" y="{y + 12}">'
                   f"{escape(str(value))}{unit}</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def unit_map(data: dict[str, Any], width: int = 640) -> str:
    """District outlines and the month's red and orange units as coloured points (SVG)."""
    if not data["outlines"]:
        return "<p>（无区县边界数据）</p>"
    o = data["outlines"][0]
    xmin, ymin, xmax, ymax = o["xmin"], o["ymin"], o["xmax"], o["ymax"]
    pad = 0.01 * max(xmax - xmin, ymax - ymin)
    vw, vh = xmax - xmin + 2 * pad, ymax - ymin + 2 * pad
    height = int(width * vh / vw)
    stroke = vw / width
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="{xmin - pad} {-ymax - pad} {vw} {vh}" font-family="{FONT}">']  # fmt: skip
    for d in data["outlines"]:
        out.append(f'<path d="{d["path"]}" fill="#f5f5f5" stroke="#616161" '
                   f'stroke-width="{stroke:.6f}"/>')  # fmt: skip
    for d in data["outlines"]:
        out.append(f'<text x="{d["lon"]}" y="{-d["lat"]}" font-size="{stroke * 9:.6f}" '
                   f'text-anchor="middle" fill="#424242">{escape(d["name"])}</text>')  # fmt: skip
    for u in sorted(data["units"], key=lambda u: u["level"] == "major"):
        colour = COLOUR_HEX[LEVEL_COLOURS[u["level"]]]
        out.append(
            f'<circle cx="{u["lon"]}" cy="{-u["lat"]}" r="{stroke * 2.5:.6f}" '
            f'fill="{colour}" stroke="#ffffff" stroke-width="{stroke * 0.5:.6f}"/>'
        )
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------------ the PDF


def _levels(items: list[dict[str, Any]], depth: int = 2) -> list[dict[str, Any]]:
    out = []
    for it in items:
        out.append(it)
        if it["level"] < depth:
            out.extend(_levels(it["items"], depth))
    return out


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)  # fmt: skip
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def html(data: dict[str, Any]) -> str:
    """The bulletin as one HTML page (what weasyprint lays out)."""
    card, comp, haz = data["scorecard"], data["completion"], data["hazards"]
    y, m = data["month"].split("-")
    snap = f"（快照 #{data['snapshot']}）" if data["snapshot"] else "（实时）"
    score_rows = [[it["id"], "　" * (it["level"] - 1) + it["name"], it["score"], it["max"]]
                  for it in _levels(card["items"])]  # fmt: skip
    first = [(f"{it['id']} {it['name']}", Decimal(it["score"]), Decimal(it["max"]))
             for it in card["items"]]  # fmt: skip
    parts = [
        f"<h1>西安市安全发展示范城市创建工作月通报</h1><p class='sub'>{y}年{int(m)}月"
        f"（截至 {data['through']}）· 评价细则 {escape(card['framework'])} 版 · 生成于 "
        f"{data['generated_at']}</p>",
        f"<h2>一、评分{snap}</h2><p class='total'>总分 <b>{card['total']}</b> / {card['max']}</p>",
        bars(first),
        _table(["编号", "评价项目", "得分", "满分"], score_rows),
    ]
    for key, title in (("departments", "市级部门"), ("districts", "区县（开发区）")):
        g = comp[key]
        parts.append(
            f"<h2>{'二' if key == 'departments' else '三'}、{title}创建任务完成率</h2>"
            f"<p>{g['organisations']} 个单位，平均完成率 {g['average'] or '–'}%；达到100%的 "
            f"{g['at_100']} 个，90%以上 {g['at_90']} 个，70%以上 {g['at_70']} 个。</p>"
        )
        parts.append(bars([(r["name"], Decimal(r["rate"]), Decimal(100)) for r in g["rows"]],
                          unit="%"))  # fmt: skip
        parts.append(_table(["排名", "单位", "到期任务", "已完成", "未完成", "完成率%"],
                            [[r["rank"], r["name"], r["due"], r["done"], r["overdue"], r["rate"]]
                             for r in g["rows"]]))  # fmt: skip
    parts.append("<h2>四、隐患整改超期排名</h2>")
    for key, title in (("departments", "市级部门"), ("districts", "区县（开发区）")):
        parts.append(f"<h3>{title}</h3>")
        parts.append(_table(["排名", "单位", "超期隐患", "未闭环隐患", "本月整改", "按期整改"],
                            [[r["rank"], r["name"], r["overdue"], r["open"], r["rectified"],
                              r["on_time"]] for r in haz[key]]))  # fmt: skip
    reds = sum(1 for u in data["units"] if u["level"] == "major")
    current = sum(1 for u in data["units"] if u["current"])
    note = f"其中 {current} 个单元月末前无等级记录，按当前等级计。" if current else ""
    parts.append(
        f"<h2>五、本月红色、橙色风险单元分布</h2><p>{LEVEL_NAMES_ZH['major']}（红）"
        f"{reds} 个，{LEVEL_NAMES_ZH['large']}（橙）{len(data['units']) - reds} 个。{note}</p>"
    )
    parts.append(unit_map(data))
    style = (
        (
            f"@page {{ size: A4; margin: 16mm 14mm; }} body {{ font-family: '{FONT}'; "
            "font-size: 9pt; }} h1 {{ font-size: 16pt; text-align: center; }} "
            "h2 {{ font-size: 12pt; border-bottom: 1px solid #888; }} h3 {{ font-size: 10pt; }} "
            ".sub {{ text-align: center; color: #555; }} .total {{ font-size: 12pt; }} "
            "table {{ border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; }} "
            "td, th {{ border: 1px solid #bbb; padding: 1pt 4pt; }} th {{ background: #eee; }} "
            "svg {{ display: block; margin: 4pt 0; }}"
        )
        .replace("{{", "{")
        .replace("}}", "}")
    )
    return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><style>{style}"
            f"</style></head><body>{''.join(parts)}</body></html>")  # fmt: skip


def pdf(data: dict[str, Any]) -> bytes:
    """The bulletin as PDF (blocking: call it in a worker thread)."""
    from weasyprint import HTML

    out: bytes = HTML(string=html(data)).write_pdf()
    return out


# ------------------------------------------------------------------ the XLSX


def xlsx(data: dict[str, Any]) -> bytes:
    """The bulletin as a workbook: overview, scorecard, completion, hazards, units."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    card = data["scorecard"]
    wb = Workbook()
    ws = wb.active
    ws.title = "总览"
    for row in (["年度", data["year"]], ["月份", data["month"]], ["截至", data["through"]],
                ["评价细则", card["framework"]], ["快照", data["snapshot"] or "实时"],
                ["总分", Decimal(card["total"])], ["满分", Decimal(card["max"])],
                ["生成于", data["generated_at"]]):  # fmt: skip
        ws.append(row)
    ws = wb.create_sheet("评分")
    ws.append(["编号", "层级", "评价项目", "得分", "满分", "自动评分"])
    for it in _levels(card["items"], depth=3):
        ws.append([it["id"], it["level"], it["name"], Decimal(it["score"]), Decimal(it["max"]),
                   "是" if it["auto"] else "否"])  # fmt: skip
    ws = wb.create_sheet("任务完成率")
    ws.append(["类别", "排名", "代码", "单位", "到期任务", "已完成", "未完成", "完成率%"])
    for key, title in (("departments", "市级部门"), ("districts", "区县（开发区）")):
        g = data["completion"][key]
        for r in g["rows"]:
            ws.append([title, r["rank"], r["code"], r["name"], r["due"], r["done"],
                       r["overdue"], Decimal(r["rate"])])  # fmt: skip
        ws.append([title, "平均", None, None, g["tasks_due"], g["tasks_done"], None,
                   None if g["average"] is None else Decimal(g["average"])])  # fmt: skip
    ws = wb.create_sheet("隐患超期排名")
    ws.append(["类别", "排名", "代码", "单位", "超期隐患", "未闭环隐患", "本月整改", "按期整改"])
    for key, title in (("departments", "市级部门"), ("districts", "区县（开发区）")):
        for r in data["hazards"][key]:
            ws.append([title, r["rank"], r["code"], r["name"], r["overdue"], r["open"],
                       r["rectified"], r["on_time"]])  # fmt: skip
    ws = wb.create_sheet("红橙单元")
    ws.append(["代码", "名称", "类别", "区县", "等级", "经度", "纬度", "等级来源"])
    for u in data["units"]:
        ws.append([u["code"], u["name"], u["category"], u["district"],
                   LEVEL_NAMES_ZH[u["level"]], u["lon"], u["lat"],
                   "当前等级" if u["current"] else "月末等级"])  # fmt: skip
    for sheet in wb.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
