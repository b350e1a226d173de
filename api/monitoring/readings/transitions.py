"""api.monitoring.readings.transitions: what a stored batch moves: offline periods and alarm
periods.

Gaps longer than a point's expected interval become offline periods; readings
past thresholds open, escalate, de-escalate and close alarm periods (the rules
are api/monitoring/alarms.py). Alarm writes are kept for last, just before commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import numpy as np

from api.monitoring import alarms as alarm_rules
from api.monitoring.points import levels
from api.monitoring.readings.batch import Batch, IngestResult
from api.monitoring.readings.check import EPOCH
from api.monitoring.readings.liveness import move_liveness


async def apply_batch(conn: asyncpg.Connection, batch: Batch, result: IngestResult) -> AlarmWrites:
    """State, offline periods and alarms, in time order; the points' liveness rows locked."""
    arrays = batch.arrays
    idx, ts, values = batch.idx, batch.ts_us, batch.values
    starts = np.flatnonzero(np.concatenate([[True], idx[1:] != idx[:-1]]))
    ends = np.concatenate([starts[1:], [len(idx)]]) - 1
    group_points = idx[starts]
    pids = arrays.ids[group_points]
    # previous last reading per group (-1: never reported; LATE: nothing newer in this batch)
    prev_last, open_rows = await move_liveness(conn, pids, ts[ends])
    group_of = np.repeat(np.arange(len(starts)), ends - starts + 1)
    in_order = ts > prev_last[group_of]
    never = prev_last == -1
    result.touched_units.update(int(u) for u in arrays.unit_ids[group_points[never]] if u >= 0)

    # gaps -> offline periods: between the previous reading and each in-order reading
    o_idx, o_ts = idx[in_order], ts[in_order]
    o_group = group_of[in_order]
    prev_ts = np.empty_like(o_ts)
    if len(o_ts):
        prev_ts[1:] = o_ts[:-1]
        first = np.concatenate([[True], o_group[1:] != o_group[:-1]])
        prev_ts[first] = prev_last[o_group[first]]
        interval = arrays.interval_us[o_idx]
        gap = (prev_ts >= 0) & (o_ts - prev_ts > interval)
        if gap.any():
            g_pids = arrays.ids[o_idx[gap]]
            status = await conn.execute(
                "INSERT INTO monitoring_offline_periods (point_id, started_at, ended_at) "
                "SELECT p, 'epoch'::timestamptz + s * interval '1 microsecond', "
                "'epoch'::timestamptz + e * interval '1 microsecond' "
                "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(p, s, e) "
                "ON CONFLICT (point_id, started_at) DO NOTHING",
                g_pids.tolist(), (prev_ts + interval)[gap].tolist(), o_ts[gap].tolist(),
            )  # fmt: skip
            result.offline_periods = int(status.split()[-1])
            result.touched_units.update(
                int(u) for u in arrays.unit_ids[o_idx[gap]].tolist() if u >= 0
            )

    # alarms: points with a reading past a threshold, or with an open alarm
    o_vals = values[in_order]
    lv = levels(arrays, o_idx, o_vals)
    open_by_pid = {r["point_id"]: r for r in open_rows}
    o_pids = arrays.ids[o_idx]
    # candidates: points with a reading past a threshold, and open alarms' points with a
    # reading in order (numpy set operations over the batch's ~1,700 points, not 10,000)
    reporting = np.zeros(len(pids), bool)
    reporting[o_group] = True
    open_pids = np.fromiter(open_by_pid, np.int64, len(open_by_pid))
    candidates = np.union1d(o_pids[lv > 0], open_pids[np.isin(open_pids, pids[reporting])])
    counts = {"opened": 0, "escalated": 0, "deescalated": 0, "closed": 0}
    ends_existing: list[tuple[int, datetime, str]] = []
    new_rows: list[tuple[int, int, alarm_rules.NewAlarm]] = []
    if len(candidates):
        sel = np.flatnonzero(np.isin(o_pids, candidates))
        by_point: dict[int, list[tuple[datetime, float, int]]] = {}
        for j in sel.tolist():
            t = EPOCH + timedelta(microseconds=int(o_ts[j]))
            by_point.setdefault(int(o_idx[j]), []).append((t, float(o_vals[j]), int(lv[j])))
        for row, readings in by_point.items():
            pid = int(arrays.ids[row])
            o = open_by_pid.get(pid)
            current = (alarm_rules.OpenAlarm(o["id"], o["level"], o["episode"], o["started_at"])
                       if o else None)  # fmt: skip
            tr = alarm_rules.transitions(arrays.codes[row], current, readings)
            if not tr.changed:
                continue
            unit = int(arrays.unit_ids[row])
            if unit >= 0:
                result.touched_units.add(unit)
            if tr.end_open is not None and current is not None:
                ends_existing.append((current.id, *tr.end_open))
                counts[_count_key(tr.end_open[1])] += 1
            for new in tr.new:
                new_rows.append((pid, unit, new))
                if new.end_reason is not None:
                    counts[_count_key(new.end_reason)] += 1
            counts["opened"] += sum(1 for n in tr.new if n.episode == n.code)
    result.alarms = counts
    return AlarmWrites(ends_existing, new_rows)


@dataclass(slots=True)
class AlarmWrites:
    """The alarm periods a batch ends and inserts, written last (just before the commit):
    writing alarms bumps the alarms layer's version row, which concurrent batches then
    wait for until this one commits."""

    ends: list[tuple[int, datetime, str]]
    new: list[tuple[int, int, alarm_rules.NewAlarm]]

    async def write(self, conn: asyncpg.Connection) -> None:
        """End the periods that ended, insert the new ones."""
        ends_existing, new_rows = self.ends, self.new
        if ends_existing:
            await conn.execute(
                "UPDATE alarms a SET ended_at = u.t, end_reason = u.r "
                "FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS u(id, t, r) "
                "WHERE a.id = u.id",
                [e[0] for e in ends_existing], [e[1] for e in ends_existing],
                [e[2] for e in ends_existing],
            )  # fmt: skip
        if new_rows:
            await conn.execute(
                "INSERT INTO alarms (code, name, district, point_id, risk_unit_id, episode, level, "
                "value, started_at, ended_at, end_reason, source, geom) "
                "SELECT u.code, mp.name || ' ' || u.level || '级报警', mp.district, mp.id, "
                "mp.risk_unit_id, u.episode, u.level, u.value, u.s, u.e, u.r, 'readings', mp.geom "
                "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::float8[], "
                "$6::timestamptz[], $7::timestamptz[], $8::text[]) "
                "AS u(code, pid, episode, level, value, s, e, r) "
                "JOIN monitoring_points mp ON mp.id = u.pid",
                [n.code for _, _, n in new_rows], [p for p, _, _ in new_rows],
                [n.episode for _, _, n in new_rows], [n.level for _, _, n in new_rows],
                [n.value for _, _, n in new_rows], [n.started_at for _, _, n in new_rows],
                [n.ended_at for _, _, n in new_rows], [n.end_reason for _, _, n in new_rows],
            )  # fmt: skip


def _count_key(reason: str) -> str:
    return {"normal": "closed", "escalated": "escalated", "deescalated": "deescalated"}[reason]
