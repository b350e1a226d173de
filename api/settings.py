"""api.settings: configuration from the environment (ONEMAP_*), read when the app is made."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = PROJECT_ROOT / ".data"
DEFAULT_DATABASE_URL = "postgresql://onemap@127.0.0.1:55432/onemap"


def project_database_url() -> str:
    """The URL `make demo` set up (.data/database_url), else the local-cluster default."""
    stamp = STATE_DIR / "database_url"
    if stamp.is_file():
        url = stamp.read_text(encoding="utf-8").strip()
        if url:
            return url
    return DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    """Everything the service reads from its environment; one instance per app."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_", extra="ignore")

    database_url: str = Field(
        default_factory=project_database_url,
        description="PostgreSQL/PostGIS URL (postgresql://user@host:port/db)",
    )
    db_pool_min: int = Field(2, ge=1)
    db_pool_max: int = Field(10, ge=1)
    statement_timeout_ms: int = Field(
        15_000, ge=100, description="every request's queries run under this timeout"
    )
    redis_url: str | None = Field(None, description="redis://... shares finished tiles")
    read_database_urls: str = Field(
        "", description="streaming replicas for read-only work, comma-separated (api/replicas.py)"
    )
    read_wait_ms: int = Field(
        200, ge=0, le=5000, description="how long a read waits for a replica to replay its LSN"
    )
    replica_check_ms: int = Field(500, ge=50, description="how often replicas are checked")
    tile_max_zoom: int = Field(22, ge=0, le=24, description="highest zoom a tile is served at")
    tile_buffer: int = Field(256, ge=0, le=1024, description="MVT buffer in tile units (of 4096)")
    tile_max_features: int = Field(10_000, ge=1, description="feature cap per layer per tile")
    tile_cache_mb: int = Field(128, ge=0, description="in-process tile cache; 0 disables caching")
    tile_cache_ttl_s: int = Field(86_400, ge=1, description="lifetime of a tile in Redis")
    root_path: str = ""
    data_dir: Path = STATE_DIR
    raster_time_limit_s: float = Field(
        1.0, gt=0, le=60, description="a raster request past this answers 503 (titiler's work)"
    )
    raster_workers: int = Field(
        4, ge=1, le=64,
        description="raster requests at work at once per process; a request cut off at its "
        "time limit keeps its place until its (bounded) work ends, so cut-off work never piles up",
    )  # fmt: skip
    raster_queue_s: float = Field(
        5.0, ge=0, le=60,
        description="how long a raster request waits for a place (no work meanwhile) before "
        "a 503; its time limit starts when it has one",
    )  # fmt: skip
    environment: str = Field("development", description="development | test | production")
    secret_key: str = Field(
        "onemap-development-secret-change-me",
        description="signs login tokens; must be set outside development",
    )
    token_ttl_s: int = Field(3600, ge=60, le=86400, description="lifetime of login tokens")
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1024)
    max_zip_entries: int = Field(64, ge=1)
    max_unzipped_bytes: int = Field(1024 * 1024 * 1024, ge=1024)
    grading_interval_s: int = Field(
        300, ge=0, description="full regrade every N seconds (one runner across workers); 0: off"
    )
    grading_workers: int = Field(
        2,
        ge=1,
        le=32,
        description="connections a big first grading is split across (the database's cores)",
    )
    grading_wait_s: float = Field(
        10.0, ge=0, description="how long an event request waits for its incremental regrade"
    )
    readings_max_batch: int = Field(100_000, ge=1, description="readings per request at most")
    readings_max_future_s: int = Field(
        300, ge=0, description="readings stamped further ahead of the server clock are refused"
    )
    readings_retention_days: int = Field(
        30, ge=1, le=400, description="reading partitions older than this are dropped"
    )
    readings_partitions_ahead_days: int = Field(
        2, ge=0, le=60, description="reading partitions are created this many days ahead"
    )
    readings_maintenance_interval_s: int = Field(
        3600, ge=0, description="reading-partition upkeep every N seconds (and at start); 0: off"
    )
    readings_hourly_retention_days: int = Field(
        730,
        ge=0,
        le=36_600,
        description="the hourly roll-up (readings_hourly) is kept this long; 0: for ever",
    )
    readings_detach_lock_timeout_ms: int = Field(
        500, ge=10, le=60_000, description="lock_timeout of each try to detach an expired day"
    )
    readings_history_max_rows: int = Field(
        10_000,
        ge=100,
        description="rows of one GET .../readings page at most (a leap year of hours fits)",
    )
    readings_raw_max_days: int = Field(
        7, ge=1, le=400, description="longest range of raw readings one request may ask for"
    )
    webhook_timeout_s: float = Field(5.0, gt=0)
    webhook_max_attempts: int = Field(8, ge=1)
    webhook_backoff_s: float = Field(2.0, gt=0, description="first retry delay, doubled each time")
    sse_heartbeat_s: float = Field(15.0, gt=0)
    import_timezone: str = Field(
        "Asia/Shanghai", description="time zone of imported date-times written without an offset"
    )
    import_bulk_min_rows: int = Field(
        10_000,
        ge=1,
        description="an import of at least this many rows into an empty layer loads in bulk "
        "(indexes and foreign keys rebuilt after the load)",
    )
    import_statement_timeout_ms: int = Field(
        30 * 60 * 1000, ge=1000, description="statement timeout inside an import's transaction"
    )
    city_bbox: tuple[float, float, float, float] = Field(
        (107.0, 33.3, 110.0, 34.9),
        description="lon/lat box around the city; imported coordinates outside are rejected",
    )
    # ---- the front end (frontend/, built by `make frontend`)
    frontend_dist: Path = Field(
        PROJECT_ROOT / "frontend" / "dist", description="the built front end served at /"
    )
    basemap_url: str | None = Field(
        None,
        description="optional raster basemap under the one map, an XYZ URL with {z}/{x}/{y} "
        "(and {key}), e.g. Tianditu; unset: the offline base (districts and the city's layers)",
    )
    basemap_key: str | None = Field(None, description="the key put into basemap_url's {key}")
    basemap_attribution: str = Field("", description="credit shown for the basemap")
    # ---- reliability: load shedding, temporary files
    max_inflight: int = Field(
        128, ge=1, description="requests served at once; more wait in the queue (load shedding)"
    )
    max_queued: int = Field(
        256, ge=0, description="requests waiting for a slot; past it a 503 with Retry-After at once"
    )
    queue_wait_s: float = Field(
        5.0, ge=0, description="longest wait for a slot before a 503 with Retry-After"
    )
    upload_dir: Path | None = Field(
        None, description="where uploads and import work files go (default: the system temp dir)"
    )
    # ---- queries and analysis: every cap is named in the 400/413 that enforces it
    features_default_limit: int = Field(100, ge=1, description="/layers/{layer}/features page")
    features_max_limit: int = Field(10_000, ge=1, description="largest `limit` of a features page")
    ogc_default_limit: int = Field(
        1000, ge=1, description="OGC items page when no limit is given (GDAL >= 3.8 uses it)"
    )
    ogc_max_limit: int = Field(10_000, ge=1, description="largest OGC items `limit`")
    max_offset: int = Field(1_000_000, ge=0, description="largest `offset` of a page")
    analysis_max_radius_m: float = Field(
        50_000.0, gt=0, description="largest distance/radius an analysis accepts, metres"
    )
    analysis_max_k: int = Field(100, ge=1, description="largest k of a nearest query")
    analysis_max_vertices: int = Field(
        10_000, ge=4, description="most vertices of an input geometry (413 past it)"
    )
    analysis_max_features: int = Field(
        5_000, ge=1, description="most features an analysis returns (400 past it: narrow it)"
    )
    analysis_fast_path: bool = Field(
        True, description="serve well-formed analysis requests without the route machinery"
    )
    analysis_max_body_bytes: int = Field(
        2_000_000, ge=1024, description="largest analysis request body (413 past it)"
    )
    routing_max_snap_m: float = Field(
        1_500.0, gt=0, description="farthest a point may be from a road to be snapped onto it"
    )
    routing_max_sources: int = Field(100, ge=1, description="most sources of one reach")
    routing_max_minutes: int = Field(60, ge=1, description="largest cut-off of a reach, minutes")
    incident_plan_minutes: int = Field(
        15, ge=1, le=120, description="a plan's resources: those within this travel time"
    )
    incident_needs_days: int = Field(3, ge=1, le=60, description="days of needs a plan counts")
    incident_touch_m: float = Field(
        100.0, ge=0, description="risk units this close to an incident get its accident record"
    )
    cap_sender: str = Field("onemap@xa.gov.cn", description="CAP <sender>")
    cap_sender_name: str = Field("西安市应急管理局", description="CAP <senderName>")
    cap_sender_code: str = Field(
        "610100000000",
        pattern=r"^[0-9]{6,20}$",
        description="issuing unit's code: the head of a GB/T 35965.1 identifier",
    )
    cap_max_severity: int = Field(
        2, ge=1, le=4, description="incidents of this severity or worse (1 = I级) get a CAP alert"
    )

    # ---- per-credential rate limits (429 with Retry-After past them); 0 turns them off
    rate_limit_per_s: float = Field(
        0.0, ge=0, description="requests per second per API key or token; 0: no limit"
    )
    rate_limit_burst: int = Field(200, ge=1, description="requests a key may make at once")
    rate_limit_sync_s: float = Field(
        0.2, gt=0, description="how often buckets are reconciled through Redis (when set)"
    )

    @field_validator("database_url")
    @classmethod
    def _plain_scheme(cls, v: str) -> str:
        """Accept postgres://, postgresql+asyncpg://, ... and keep postgresql://."""
        for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgres://"):
            if v.startswith(prefix):
                return "postgresql://" + v[len(prefix) :]
        return v

    @field_validator("secret_key")
    @classmethod
    def _no_default_secret_in_production(cls, v: str, info) -> str:  # type: ignore[no-untyped-def]
        if info.data.get("environment") == "production" and v.startswith("onemap-development"):
            raise ValueError("ONEMAP_SECRET_KEY must be set in production")
        return v

    @field_validator("readings_hourly_retention_days")
    @classmethod
    def _rollup_outlives_raw(cls, v: int, info) -> int:  # type: ignore[no-untyped-def]
        raw = info.data.get("readings_retention_days")
        if v and raw is not None and v <= raw:
            raise ValueError(
                f"ONEMAP_READINGS_HOURLY_RETENTION_DAYS ({v}) must be longer than "
                f"ONEMAP_READINGS_RETENTION_DAYS ({raw}), or 0 to keep the roll-up for ever"
            )
        return v

    @property
    def replica_urls(self) -> list[str]:
        """ONEMAP_READ_DATABASE_URLS as a list (empty: every read goes to the primary)."""
        return [u.strip() for u in self.read_database_urls.split(",") if u.strip()]

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for SQLAlchemy's asyncpg dialect."""
        return "postgresql+asyncpg://" + self.database_url.removeprefix("postgresql://")
