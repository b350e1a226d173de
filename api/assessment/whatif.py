"""What-if: which open items would raise the score most, in points, for the least work.

Work is counted in the unit the item's rule turns into points:
- an evidence-scored part with no accepted evidence: one piece of evidence to submit (and have
  accepted) regains the part's maximum less what its recorded findings already deduct;
- accepted evidence whose findings deduct (per finding / per missing element): each finding
  fixed regains the rule's points per finding, up to what was deducted;
- an auto-scored threshold on a ratio (old-pipe renewal): the kilometres of old mains to
  renew to pass the threshold regain the part's deduction;
- an auto-scored part per finding (hydrants not intact): each record repaired regains the
  rule's points, up to what was deducted.
Options are ranked by points regained per unit of work, then by points.
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal
from typing import Any

from api.assessment import evidence as ev
from api.assessment.scorecard import dec

ZERO = Decimal(0)


def _leaves(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The third-level (leaf) items of a rendered scorecard, in order."""
    out: list[dict[str, Any]] = []
    for item in items:
        out.extend(_leaves(item["items"]) if item["items"] else [item])
    return out


def _option(
    item: dict[str, Any], part: str, gain: Decimal, amount: Decimal, unit: str, what: str
) -> dict[str, Any]:
    """One way to regain points, with its numbers."""
    return {
        "item": item["id"],
        "name": item["name"],
        "part": part,
        "points": dec(gain),
        "work": {"amount": dec(amount), "unit": unit, "what": what},
        "points_per_unit": dec((gain / amount).quantize(Decimal("0.0001"))),
        "score": item["score"],
        "max": item["max"],
    }


def _basis(item: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The item's basis of indicator `key` (the first, or one shown `also`)."""
    first = item["basis"]
    if first is None:
        return None
    return next((b for b in [first, *first.get("also", [])] if b.get("indicator") == key), None)


def _auto(item: dict[str, Any], part: dict[str, Any]) -> dict[str, Any] | None:
    """Renewing old mains to pass a ratio threshold; repairing what a per-finding part found."""
    basis = _basis(item, part["auto"])
    if basis is None or basis["value"] is None:
        return None
    lost = Decimal(basis["points_lost"] or 0)
    if lost <= 0:
        return None
    if part["kind"] == "per_finding" and basis.get("findings"):
        n = Decimal(basis["findings"])
        return _option(
            item,
            part["name"],
            lost,
            n,
            "findings",
            f"repair the {dec(n)} found wanting ({part['points']} points each, cap "
            f"{part['cap']}): {basis['records'].get('map')}",
        )
    if part["kind"] != "threshold":
        return None
    num, den = Decimal(basis["numerator"]), Decimal(basis["denominator"])
    need = (Decimal(part["value"]) * den - num).quantize(Decimal("0.001"), ROUND_UP)
    need += Decimal("0.001")  # strictly above the threshold
    return _option(
        item,
        part["name"],
        lost,
        need,
        basis.get("unit") or "units",
        f"renew {dec(need)} {basis.get('unit')} so that {part['name']} exceeds "
        f"{part['value']} (now {basis['value']})",
    )


def options(card: dict[str, Any], unfound: set[str]) -> list[dict[str, Any]]:
    """Every open way to regain points on the card, best value first (items whose criterion
    was not found, `unfound`, have nothing to work towards and are left out)."""
    out: list[dict[str, Any]] = []
    for item in _leaves(card["items"]):
        if item["id"] in unfound:
            continue
        rule = item["rule"]
        parts = (
            rule["parts"]
            if rule["kind"] == "parts"
            else [dict(rule, max=item["max"], name=item["name"])]
        )
        for part in parts:
            if part.get("auto"):
                opt = _auto(item, part)
                if opt is not None:
                    out.append(opt)
                continue
            pmax = Decimal(part["max"])
            got, lost, findings = ev.evidence_score(part, pmax, item["evidence"])
            if not any(e["state"] == "accepted" for e in item["evidence"]):
                pending = sum(1 for e in item["evidence"] if e["state"] == "submitted")
                what = (
                    "have the submitted evidence reviewed"
                    if pending
                    else "submit evidence (document, photo or link) for review"
                )
                out.append(
                    _option(
                        item, part.get("name") or item["name"], pmax, Decimal(1), "evidence", what
                    )
                )
            elif lost and lost > 0 and findings:
                per = Decimal(part["points"])
                fix = min(Decimal(findings), (lost / per).to_integral_value(ROUND_UP))
                out.append(
                    _option(
                        item,
                        part.get("name") or item["name"],
                        lost,
                        fix,
                        "findings",
                        f"fix {dec(fix)} of the {findings} findings "
                        f"({part['points']} points each, cap {part['cap']})",
                    )
                )
    out.sort(key=lambda o: (-Decimal(o["points_per_unit"]), -Decimal(o["points"]), o["item"]))
    return out


def _bases(items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(item id, basis) of every item's basis and the indicators shown beside it."""
    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if item["basis"] is not None:
            out += [(item["id"], b) for b in [item["basis"], *item["basis"].get("also", [])]]
        out += _bases(item["items"])
    return out


def unscored(card: dict[str, Any], hazards: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Work that moves a live indicator to its target but no points (no deduction text was
    found for it): monitors to install, residents to reach, hazards to close."""
    out: list[dict[str, Any]] = []
    for item, b in _bases(card["items"]):
        if b.get("points_lost") is not None or b["threshold"] is None or b["value"] is None:
            continue
        num, den = Decimal(b["numerator"]), Decimal(b["denominator"])
        target = Decimal(b["threshold"])
        if Decimal(b["value"]) >= target:
            continue
        step = Decimal("0.001") if b["unit"] == "km" else Decimal(1)
        need = (target * den - num).quantize(step, ROUND_UP)
        out.append(
            {"item": item, "indicator": b["indicator"], "value": b["value"],
             "threshold": b["threshold"], "points": None,
             "work": {"amount": dec(need), "unit": b["unit"],
                      "what": f"{dec(need)} more ({b['unit']}) to reach {b['threshold']}"}}
        )  # fmt: skip
    if hazards is not None and hazards["records"].get("overdue"):
        n = Decimal(hazards["records"]["overdue"])
        what = (f"close the {dec(n)} overdue hidden hazards: the on-time rate goes from "
                f"{hazards['value']} to 1")  # fmt: skip
        out.append(
            {"item": None, "indicator": "hazards_on_time", "value": hazards["value"],
             "threshold": None, "points": None,
             "work": {"amount": dec(n), "unit": "hidden hazards", "what": what}}
        )  # fmt: skip
    return out


def what_if(
    card: dict[str, Any], unfound: set[str], hazards: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ranked options with the score they would reach if all were done, and the work that
    moves indicators without points (`unscored`)."""
    opts = options(card, unfound)
    best = Decimal(card["total"]) + sum((Decimal(o["points"]) for o in opts), ZERO)
    return {
        "framework": card["framework"],
        "year": card["year"],
        "total": card["total"],
        "max": card["max"],
        "reachable": dec(min(best, Decimal(card["max"]))),
        "options": opts,
        "unscored": unscored(card, hazards),
    }
