"""api.incidents.cap: public warnings as OASIS CAP 1.2 (GB/T 35965.1 identifiers), Atom feed.

`sync` runs in the caller's transaction after every incident or weather-warning write: what
should be announced (open incidents at or above `cap_max_severity`, orange and red warnings
still in force) gets an `Alert`; a change of what was announced an `Update`; what should no
longer be a `Cancel`; each message names the ones before it in `references`.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from api.settings import Settings
from api.sqlfiles import load
from api.timestamps import utcnow

NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
BEIJING = ZoneInfo("Asia/Shanghai")
#: most vertices of an alert's area (all its polygons together)
MAX_VERTICES = 300
#: severity 1 (I级) .. 4 -> CAP severity; warning colours likewise
CAP_SEVERITY = {1: "Extreme", 2: "Severe", 3: "Moderate", 4: "Minor"}
COLOUR_SEVERITY = {"red": "Extreme", "orange": "Severe"}
LEVEL_ZH = {1: "I级（特别重大）", 2: "II级（重大）", 3: "III级（较大）", 4: "IV级（一般）"}
COLOUR_ZH = {"red": "红色", "orange": "橙色"}
WARNING_ZH = {
    "rainstorm": "暴雨",
    "heat": "高温",
    "cold_wave": "寒潮",
    "snowstorm": "暴雪",
    "road_icing": "道路结冰",
    "gale": "大风",
    "thunder_lightning": "雷电",
    "hail": "冰雹",
    "fog": "大雾",
    "haze": "霾",
    "dust_storm": "沙尘暴",
    "drought": "干旱",
}

WANTED_INCIDENTS = """
SELECT i.id, i.kind, i.severity, i.title, i.occurred_at, k.name_zh, k.name_en, k.radius_m,
       k.cap_category, ST_AsEWKB(ST_Buffer(i.geom::geography, k.radius_m)::geometry) AS zone
  FROM incidents i JOIN incident_kinds k ON k.kind = i.kind
 WHERE i.status = 'open' AND i.severity <= $1
"""
WANTED_WARNINGS = """
SELECT code, name, type, colour, valid_from, valid_to, ST_AsEWKB(geom) AS zone
  FROM weather_warnings
 WHERE colour IN ('orange', 'red') AND cancelled_at IS NULL AND valid_to > now()
"""


def _time(at: datetime) -> str:
    """CAP's dateTime: seconds and an explicit offset (Beijing time), never `Z`."""
    return at.astimezone(BEIJING).replace(microsecond=0).isoformat()


def _clock(at: datetime) -> str:
    """Beijing time to the minute, for people."""
    return _time(at)[:16].replace("T", " ")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _digest(subject: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(subject, sort_keys=True, default=str).encode()).hexdigest()


async def _area(conn: asyncpg.Connection, zone: bytes) -> dict[str, Any]:
    row = await conn.fetchrow(load("incidents/sql/cap_area.sql"), zone, MAX_VERTICES)
    return dict(row)


def _info(
    alert: ET.Element, lang: str, s: dict[str, Any], area: dict[str, Any], settings: Settings
) -> None:
    """One <info> block (language `lang`)."""
    zh = lang == "zh-CN"
    info = _sub(alert, "info")
    _sub(info, "language", lang)
    _sub(info, "category", s["category"])
    _sub(info, "event", s["event_zh"] if zh else s["event_en"])
    _sub(info, "urgency", "Immediate")
    _sub(info, "severity", s["severity"])
    _sub(info, "certainty", s["certainty"])
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "onemap")
    _sub(code, "value", s["event_code"])
    _sub(info, "effective", _time(s["effective"]))
    if s.get("expires"):
        _sub(info, "expires", _time(s["expires"]))
    _sub(info, "senderName", settings.cap_sender_name if zh else "onemap")
    _sub(info, "headline", s["headline_zh"] if zh else s["headline_en"])
    _sub(info, "description", s["description_zh"] if zh else s["description_en"])
    _sub(info, "instruction", s["instruction_zh"] if zh else s["instruction_en"])
    a = _sub(info, "area")
    names = area["district_names"] or []
    desc = "、".join(names[:3]) + ("等" if len(names) > 3 else "")
    _sub(a, "areaDesc", (desc + " " + s["area_zh"]).strip() if zh else s["area_en"])
    for poly in area["polygons"] or []:
        _sub(a, "polygon", poly)
    for adcode in area["adcodes"] or []:
        g = _sub(a, "geocode")
        _sub(g, "valueName", "GB/T 2260")
        _sub(g, "value", adcode)


def build_xml(
    settings: Settings,
    identifier: str,
    sent: datetime,
    msg_type: str,
    refs: str | None,
    s: dict[str, Any] | None,
    area: dict[str, Any] | None,
    note: str | None = None,
) -> str:
    """One CAP 1.2 alert message as XML text."""
    ET.register_namespace("", NS)
    alert = ET.Element(f"{{{NS}}}alert")
    _sub(alert, "identifier", identifier)
    _sub(alert, "sender", settings.cap_sender)
    _sub(alert, "sent", _time(sent))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", msg_type)
    _sub(alert, "scope", "Public")
    if note:
        _sub(alert, "note", note)
    if refs:
        _sub(alert, "references", refs)
    if s is not None and area is not None:
        _info(alert, "zh-CN", s, area, settings)
        _info(alert, "en-US", s, area, settings)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(alert, encoding="unicode")


def _incident_subject(r: asyncpg.Record) -> dict[str, Any]:
    level = LEVEL_ZH[r["severity"]]
    radius = int(round(r["radius_m"]))
    return {
        "category": r["cap_category"],
        "severity": CAP_SEVERITY[r["severity"]],
        "certainty": "Observed",
        "event_zh": r["name_zh"],
        "event_en": r["name_en"],
        "event_code": r["kind"],
        "effective": r["occurred_at"],
        "expires": None,
        "headline_zh": f"{r['name_zh']}{level}",
        "headline_en": f"{r['name_en'].capitalize()}, severity {r['severity']} of 4 (1: worst)",
        "description_zh": f"{_clock(r['occurred_at'])}发生{r['name_zh']}"
        f"（{r['title']}），影响半径约{radius}米。",
        "description_en": f"{r['name_en'].capitalize()} at {_time(r['occurred_at'])}; "
        f"impact radius about {radius} m.",
        "instruction_zh": "请影响范围内人员听从现场指挥，远离危险区域，勿围观。",
        "instruction_en": "People in the area: follow the responders, keep away, do not gather.",
        "area_zh": f"{r['name_zh']}影响区（{radius}米）",
        "area_en": f"{r['name_en']} impact zone ({radius} m)",
        "severity_level": r["severity"],
    }


def _warning_subject(r: asyncpg.Record) -> dict[str, Any]:
    zh = WARNING_ZH.get(r["type"], r["type"])
    colour = COLOUR_ZH[r["colour"]]
    return {
        "category": "Met",
        "severity": COLOUR_SEVERITY[r["colour"]],
        "certainty": "Likely",
        "event_zh": f"{zh}预警",
        "event_en": f"{r['type'].replace('_', ' ')} warning",
        "event_code": f"{r['type']}_{r['colour']}",
        "effective": r["valid_from"],
        "expires": r["valid_to"],
        "headline_zh": f"{zh}{colour}预警",
        "headline_en": f"{r['colour'].capitalize()} {r['type'].replace('_', ' ')} warning",
        "description_zh": f"{r['name']}：{zh}{colour}预警，有效至{_clock(r['valid_to'])}。",
        "description_en": f"{r['colour'].capitalize()} {r['type'].replace('_', ' ')} warning "
        f"in force until {_time(r['valid_to'])}.",
        "instruction_zh": "请做好防范，减少外出，关注后续预警信息。",
        "instruction_en": "Take precautions, limit travel, watch for further warnings.",
        "area_zh": f"{zh}{colour}预警区",
        "area_en": f"{r['colour']} {r['type']} warning area",
    }


async def _identifier(conn: asyncpg.Connection, settings: Settings, sent: datetime) -> str:
    """GB/T 35965.1: the issuing unit's code, the issue time (Beijing, yyyyMMddHHmmss) and a
    four-digit serial number within that second."""
    head = settings.cap_sender_code + sent.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
    n = await conn.fetchval("SELECT count(*) FROM cap_alerts WHERE identifier LIKE $1 || '%'", head)
    return f"{head}{n + 1:04d}"


async def _issue(
    conn: asyncpg.Connection,
    settings: Settings,
    subject: str,
    msg_type: str,
    previous: list[asyncpg.Record],
    s: dict[str, Any] | None,
    zone: bytes | None,
    digest: str,
) -> str:
    sent = utcnow()
    identifier = await _identifier(conn, settings, sent)
    refs = (
        " ".join(f"{settings.cap_sender},{p['identifier']},{_time(p['sent'])}" for p in previous)
        or None
    )
    area = await _area(conn, zone) if zone is not None else None
    note = f"{subject} no longer in force" if msg_type == "Cancel" else None
    xml = build_xml(settings, identifier, sent, msg_type, refs, s, area, note)
    await conn.execute("UPDATE cap_alerts SET active = false WHERE subject = $1", subject)
    headline = s["headline_zh"] if s else f"解除：{previous[-1]['headline']}"
    await conn.execute(
        "INSERT INTO cap_alerts (identifier, sent, msg_type, subject, refs, active, headline, "
        "digest, expires, xml) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        identifier,
        sent,
        msg_type,
        subject,
        refs,
        msg_type != "Cancel",
        headline,
        digest,
        s.get("expires") if s else None,
        xml,
    )
    return identifier


async def sync(conn: asyncpg.Connection, settings: Settings) -> list[str]:
    """Issue the Alerts, Updates and Cancels that bring the alerts in line (caller's tx)."""
    await conn.execute("LOCK TABLE cap_alerts IN SHARE ROW EXCLUSIVE MODE")
    wanted: dict[str, tuple[dict[str, Any], bytes]] = {}
    for r in await conn.fetch(WANTED_INCIDENTS, settings.cap_max_severity):
        wanted[f"incident:{r['id']}"] = (_incident_subject(r), r["zone"])
    for r in await conn.fetch(WANTED_WARNINGS):
        wanted[f"warning:{r['code']}"] = (_warning_subject(r), r["zone"])
    rows = await conn.fetch(
        "SELECT subject, identifier, sent, msg_type, digest, headline, active FROM cap_alerts "
        "WHERE subject IN (SELECT subject FROM cap_alerts WHERE active) OR subject = ANY($1) "
        "ORDER BY id",
        list(wanted),
    )
    chains: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        if r["msg_type"] == "Alert":
            chains[r["subject"]] = []
        chains.setdefault(r["subject"], []).append(r)
    issued = []
    for subject, (s, zone) in wanted.items():
        chain = chains.get(subject, [])
        digest = _digest({**s, "zone": zone.hex()})
        if not chain or chain[-1]["msg_type"] == "Cancel":
            issued.append(await _issue(conn, settings, subject, "Alert", [], s, zone, digest))
        elif chain[-1]["digest"] != digest:
            issued.append(await _issue(conn, settings, subject, "Update", chain, s, zone, digest))
    for subject, chain in chains.items():
        if subject not in wanted and chain and chain[-1]["active"]:
            issued.append(await _issue(conn, settings, subject, "Cancel", chain, None, None, ""))
    return issued


async def get_xml(conn: asyncpg.Connection, identifier: str) -> str | None:
    """The stored CAP XML of one alert."""
    text: str | None = await conn.fetchval(
        "SELECT xml FROM cap_alerts WHERE identifier = $1", identifier
    )
    return text


async def feed(conn: asyncpg.Connection, base_url: str) -> str:
    """The active alerts as an Atom feed (one entry per alert, linking its CAP XML)."""
    rows = await conn.fetch(
        "SELECT identifier, sent, msg_type, headline, subject FROM cap_alerts "
        "WHERE active AND (expires IS NULL OR expires > now()) ORDER BY sent DESC, id DESC"
    )
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **a: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", a)
        if text is not None:
            el.text = text
        return el

    root = ET.Element(f"{{{ATOM}}}feed")
    sub(root, "id", f"{base_url}/alerts")
    sub(root, "title", "onemap 预警信息 (CAP 1.2)")
    updated = rows[0]["sent"] if rows else utcnow() - timedelta(0)
    sub(root, "updated", _time(updated))
    sub(root, "link", href=f"{base_url}/alerts", rel="self")
    author = sub(root, "author")
    sub(author, "name", "onemap")
    for r in rows:
        e = sub(root, "entry")
        sub(e, "id", f"urn:oid:{r['identifier']}")
        sub(e, "title", r["headline"])
        sub(e, "updated", _time(r["sent"]))
        sub(e, "summary", f"{r['msg_type']} {r['subject']}")
        sub(
            e,
            "link",
            href=f"{base_url}/alerts/{r['identifier']}",
            rel="alternate",
            type="application/cap+xml",
        )
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
