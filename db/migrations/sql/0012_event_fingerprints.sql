-- Event records (hidden hazards, weather warnings, special periods, accidents) are
-- created through one service (api/risk_events/*); each creation stores the SHA-256 of the
-- canonical body it was made from. A re-sent record with the same code is then
-- "unchanged" when the fingerprint matches and a conflict when it does not.
CREATE TABLE event_fingerprints (
    kind        text NOT NULL
                CHECK (kind IN ('hidden_hazards', 'weather_warnings', 'special_periods',
                                'accidents')),
    code        text NOT NULL,
    sha256      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, code)
);

COMMENT ON TABLE event_fingerprints IS
    'SHA-256 of the canonical body each event record was created from (idempotent re-imports)';
