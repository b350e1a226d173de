"""api.routers.assessment: the assessment frameworks, the live scorecard and its snapshots,
the live indicators, the evidence organisations submit and its review, and the what-if."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError

from api import audit
from api.assessment import evidence, framework, indicators, scorecard, whatif
from api.deps import Admin, Editor, PoolDep, Reader, Reviewer, SettingsDep
from api.editing import scope
from api.errors import BadRequest, NotFound
from api.importer.upload import receive_upload, upload_workspace
from api.risk_events import evidence as files
from api.routers.forms import EVIDENCE_FILE, file_form
from api.timestamps import utcnow

router = APIRouter(tags=["assessment"])

Version = Annotated[str, Path(pattern=r"^[0-9A-Za-z._-]{1,32}$", examples=["2019"])]
Year = Annotated[int, Path(ge=2000, le=2100, examples=[2026])]
ItemId = Annotated[str, Path(pattern=r"^[0-9]{1,2}(\.[0-9x]{1,3}){0,2}$", examples=["1.2.4"])]
EvidenceId = Annotated[int, Path(ge=1, le=2**62)]
OrgCode = Annotated[str, Field(min_length=2, max_length=32, pattern="^[A-Za-z0-9_.-]+$")]
OrgQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=32,
        description="one organisation's share: the items it answers for, owes tasks for or "
        "submitted evidence for, scored from its own evidence; auto parts city-wide for a "
        "department, on its ground for a district, zone or town (docs/assessment.md)",
    ),
]


class SnapshotBody(BaseModel):
    """What to freeze: the whole scorecard, or one organisation's share."""

    model_config = ConfigDict(extra="forbid")
    org: str | None = Field(default=None, min_length=1, max_length=32)


@router.get(
    "/assessment/frameworks",
    operation_id="listAssessmentFrameworks",
    summary="The loaded assessment frameworks (editions)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def list_frameworks(who: Reader, pool: PoolDep) -> Response:
    """Each edition with its sources and how many items per level were found in them."""
    async with pool.acquire() as conn:
        text = await framework.list_frameworks(conn)
    return Response(text, media_type="application/json")


@router.get(
    "/assessment/frameworks/{version}",
    operation_id="getAssessmentFramework",
    summary="One framework edition with every item, its rule, text and source",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "unknown"}},
)
async def get_framework(version: Version, who: Reader, pool: PoolDep) -> Response:
    """Items flat (parent gives the tree); `found: false` marks an item whose text was not found."""
    async with pool.acquire() as conn:
        text = await framework.get_framework(conn, version)
    if text is None:
        raise NotFound(f"no framework {version!r}")
    return Response(text, media_type="application/json")


async def _card(conn: asyncpg.Connection, year: int, org: str | None) -> dict[str, object]:
    """The live scorecard of the newest edition; 404 for an unknown organisation."""
    if org is not None and not await conn.fetchval(
        "SELECT 1 FROM organisations WHERE code = $1", org
    ):
        raise NotFound(f"no organisation {org!r}")
    version = await framework.latest_version(conn)
    if version is None:
        raise NotFound("no framework loaded")
    return await scorecard.compute(conn, version, year, org)


@router.get(
    "/assessment/{year}/scorecard",
    operation_id="getAssessmentScorecard",
    summary="The live scorecard: total, every item's score and maximum as decimal strings",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "unknown org"}},
)
async def get_scorecard(year: Year, who: Reader, pool: PoolDep, org: OrgQuery = None) -> Response:
    """Each item's score is the sum of its children's; auto items carry their basis."""
    async with pool.acquire() as conn:
        card = await _card(conn, year, org)
    return Response(json.dumps(card, ensure_ascii=False), media_type="application/json")


@router.post(
    "/assessment/{year}/snapshots",
    operation_id="createAssessmentSnapshot",
    summary="Freeze the scorecard (immutable, with its digest)",
    status_code=201,
    response_class=Response,
    responses={201: {"content": {"application/json": {}}}, 404: {"description": "unknown org"}},
)
async def create_snapshot(
    year: Year, who: Admin, pool: PoolDep, body: SnapshotBody | None = None
) -> Response:
    """The snapshot: id, digest (sha256 of the canonical scorecard JSON) and the scorecard."""
    org = body.org if body else None
    async with pool.acquire() as conn, conn.transaction():
        card = await _card(conn, year, org)
        text = await scorecard.snapshot(conn, card, org, who.name)
    return Response(text, status_code=201, media_type="application/json")


@router.get(
    "/assessment/{year}/snapshots/{snapshot_id}",
    operation_id="getAssessmentSnapshot",
    summary="One frozen scorecard",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "unknown"}},
)
async def get_snapshot(
    year: Year,
    snapshot_id: Annotated[int, Path(ge=1, le=2**62)],
    who: Reader,
    pool: PoolDep,
) -> Response:
    """The snapshot exactly as it was frozen."""
    async with pool.acquire() as conn:
        text = await scorecard.get_snapshot(conn, year, snapshot_id)
    if text is None:
        raise NotFound(f"no snapshot {snapshot_id} for {year}")
    return Response(text, media_type="application/json")


@router.get(
    "/assessment/{year}/indicators",
    operation_id="getAssessmentIndicators",
    summary="The live indicators: numerator, denominator, value, target and the records behind",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def get_indicators(year: Year, who: Reader, pool: PoolDep) -> Response:
    """Every measure the store gives, the item it informs, and where its target comes from."""
    async with pool.acquire() as conn:
        body = await indicators.all_indicators(conn, year, utcnow())
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")


@router.get(
    "/assessment/{year}/what-if",
    operation_id="getAssessmentWhatIf",
    summary="Open items ranked by points regained per unit of work",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def get_what_if(year: Year, who: Reader, pool: PoolDep, org: OrgQuery = None) -> Response:
    """Evidence to submit, findings to fix, mains to renew: each with its points and work."""
    async with pool.acquire() as conn:
        card = await _card(conn, year, org)
        uncited = {
            r["id"]
            for r in await framework.items(conn, str(card["framework"]))
            if r["criterion"] is None
        }
        hazards = await indicators.measure(conn, "hazards_on_time", year, utcnow())
    body = whatif.what_if(card, uncited, hazards)
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")


class LinkIn(BaseModel):
    """A link as evidence (a published document, a web page)."""

    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl = Field(description="http(s) address of the document")
    org: OrgCode | None = Field(None, description="city-wide users: the organisation it is for")
    note: Annotated[str | None, Field(max_length=1000)] = None


class ReviewIn(BaseModel):
    """A reviewer's decision on one piece of evidence."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "reject"]
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    findings: Annotated[
        int, Field(ge=0, le=1000, description="deficiencies found (deduct by the item's rule)")
    ] = 0


_EVIDENCE_BODY = file_form(
    EVIDENCE_FILE,
    org={"type": "string"},
    note={"type": "string"},
)
_EVIDENCE_BODY["content"]["application/json"] = {"schema": LinkIn.model_json_schema()}


async def _version(conn: asyncpg.Connection) -> str:
    """The newest framework edition (404 when none is loaded)."""
    version = await framework.latest_version(conn)
    if version is None:
        raise NotFound("no framework loaded")
    return version


@router.post(
    "/assessment/{year}/items/{item}/evidence",
    operation_id="submitAssessmentEvidence",
    summary="Submit evidence (a file, or a link as JSON) for an item, to be reviewed",
    status_code=201,
    openapi_extra={"requestBody": _EVIDENCE_BODY},
    responses={
        200: {"description": "the same evidence was submitted before"},
        404: {"description": "unknown item or organisation"},
        413: {"description": "larger than the cap"},
        415: {"description": "not JPEG, PNG, PDF or a JSON link"},
    },
)
async def submit_evidence(
    year: Year, item: ItemId, who: Editor, request: Request, pool: PoolDep, settings: SettingsDep
) -> JSONResponse:
    """An organisation submits its own evidence (row-level security holds it to that)."""
    async with pool.acquire() as conn:
        version = await _version(conn)
        await evidence.item_or_404(conn, version, item)  # 404 before reading the body
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            link = LinkIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise BadRequest(f"a link is {{url, org?, note?}}: {exc.errors()[0]['msg']}") from None
        if len(str(link.url)) > 2000:
            raise BadRequest("a link is at most 2000 characters", field="url")
        org, note, clean = evidence.submitting_org(who, link.org), link.note, None
    else:
        with upload_workspace(settings) as tmp:
            upload = await receive_upload(request, tmp / "evidence", files.MAX_EVIDENCE_BYTES)
            data = upload.path.read_bytes()
        clean = files.sanitise(data)  # 415 for anything but JPEG, PNG, PDF (by content)
        org = evidence.submitting_org(who, upload.fields.get("org") or None)
        note = (upload.fields.get("note") or None) and upload.fields["note"][:1000]
    async with pool.acquire() as conn, conn.transaction():
        await scope.enter(conn, who, "edit")  # RLS: a scoped user writes its own evidence
        if clean is None:
            out, new = await evidence.submit_link(
                conn, version, item, year, org, str(link.url), note, who.name
            )
        else:
            out, new = await evidence.submit_file(
                conn, version, item, year, org, clean, upload.filename or "evidence", note, who.name
            )
        await scope.city_wide(conn)
        if new:
            await audit.record(
                conn,
                who,
                "assessment.evidence",
                "assessment_evidence",
                [str(out["id"])],
                item=item,
                year=year,
                sha256=out["sha256"],
            )
    return JSONResponse(out, status_code=201 if new else 200)


@router.get(
    "/assessment/{year}/items/{item}/evidence",
    operation_id="listAssessmentEvidence",
    summary="The evidence submitted for an item, with its review state",
)
async def list_evidence(year: Year, item: ItemId, who: Reader, pool: PoolDep) -> JSONResponse:
    """Oldest first; files are served at their `url`."""
    async with pool.acquire() as conn:
        version = await _version(conn)
        await evidence.item_or_404(conn, version, item)
        rows = await evidence.listing(conn, version, year, item)
    return JSONResponse({"item": item, "year": year, "evidence": rows.get(item, [])})


@router.get(
    "/assessment/evidence/{evidence_id}/content",
    operation_id="getAssessmentEvidenceContent",
    summary="One evidence file (sanitised)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}}},
)
async def get_evidence_content(evidence_id: EvidenceId, who: Reader, pool: PoolDep) -> Response:
    """The stored bytes, never rendered as anything active."""
    async with pool.acquire() as conn:
        row = await evidence.content(conn, evidence_id)
    disposition = "attachment" if row["media_type"] == files.PDF else "inline"
    return Response(
        bytes(row["content"]),
        media_type=row["media_type"],
        headers={
            "Content-Disposition": f'{disposition}; filename="{row["sha256"][:16]}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "ETag": f'"{row["sha256"]}"',
        },
    )


@router.post(
    "/assessment/evidence/{evidence_id}/review",
    operation_id="reviewAssessmentEvidence",
    summary="Accept or reject evidence with a reason and the findings that deduct",
    responses={
        404: {"description": "unknown evidence"},
        409: {"description": "one's own organisation's evidence, or already reviewed"},
    },
)
async def review_evidence(
    evidence_id: EvidenceId, body: ReviewIn, who: Reviewer, pool: PoolDep
) -> JSONResponse:
    """Another organisation's reviewer decides once; the decision is final."""
    async with pool.acquire() as conn, conn.transaction():
        await scope.begin(conn, who, "edit")  # the scope is entered for the update itself
        out = await evidence.review(
            conn, evidence_id, who, body.decision == "accept", body.reason, body.findings
        )
        await scope.city_wide(conn)
        await audit.record(
            conn,
            who,
            "assessment.review",
            "assessment_evidence",
            [str(evidence_id)],
            decision=body.decision,
            findings=body.findings,
        )
    return JSONResponse(out)
