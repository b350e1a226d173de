"""api.monitoring.alarms: alarm periods from readings (open, escalate, de-escalate, close).

One alarms row per (point, level) period: a reading past a threshold opens a
period; a reading at another level ends it ('escalated' or 'deescalated') and
opens the next one in the same episode; a reading back within every threshold
ends it ('normal'). Readings are taken in time order; readings older than the
point's last reading (late arrivals) are stored but do not move alarms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class OpenAlarm:
    """A point's currently open alarm period."""

    id: int
    level: int
    episode: str
    started_at: datetime


@dataclass(slots=True)
class NewAlarm:
    """An alarm period to insert (possibly already ended within the same batch)."""

    code: str
    level: int
    started_at: datetime
    value: float
    episode: str  # the code of the episode's first period
    ended_at: datetime | None = None
    end_reason: str | None = None


def alarm_code(point_code: str, ts: datetime) -> str:
    """A period's code: its point and start (a point has one reading per instant)."""
    stamp = ts.strftime("%Y%m%dT%H%M%S")
    if ts.microsecond:
        stamp += f".{ts.microsecond:06d}"
    offset = ts.utcoffset()
    return f"ALM-{point_code}-{stamp}{'Z' if not offset else ts.strftime('%z')}"


@dataclass(slots=True)
class Transitions:
    """What one point's readings do to its alarms."""

    end_open: tuple[datetime, str] | None = None
    new: list[NewAlarm] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything happened."""
        return self.end_open is not None or bool(self.new)


def end_reason(old_level: int, new_level: int) -> str:
    """Why a period at old_level ends when a reading at new_level (0: normal) arrives."""
    if new_level == 0:
        return "normal"
    return "escalated" if new_level < old_level else "deescalated"


def transitions(
    point_code: str, current: OpenAlarm | None, readings: list[tuple[datetime, float, int]]
) -> Transitions:
    """Walk a point's readings (ts ascending; level 0 = normal) from its open alarm."""
    out = Transitions()
    level = current.level if current else 0
    episode = current.episode if current else None
    open_new: NewAlarm | None = None
    for ts, value, lvl in readings:
        if lvl == level:
            continue
        reason = end_reason(level, lvl)
        if open_new is not None:
            open_new.ended_at, open_new.end_reason = ts, reason
        elif current is not None and level != 0:
            out.end_open = (ts, reason)
        if lvl == 0:
            open_new, episode = None, None
        else:
            code = alarm_code(point_code, ts)
            episode = episode or code
            open_new = NewAlarm(code, lvl, ts, value, episode)
            out.new.append(open_new)
        level = lvl
    return out
