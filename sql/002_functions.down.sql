DROP FUNCTION it_ts(timestamptz);
