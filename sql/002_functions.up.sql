-- 002_functions: helpers used by the module's SQL.

-- RFC 3339 UTC with microseconds, the API's one timestamp format
-- (2026-11-25T13:45:00.123456Z). IMMUTABLE: the zone is fixed to UTC.
CREATE FUNCTION it_ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

COMMENT ON FUNCTION it_ts(timestamptz) IS
    'API timestamp format: RFC 3339, UTC, microseconds';
