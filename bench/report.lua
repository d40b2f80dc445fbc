-- report.lua -- wrk script used by scripts/bench for every wrk run.
--
-- Request shape, from the environment (all optional):
--   BENCH_METHOD     HTTP method (default GET)
--   BENCH_BODY_FILE  file whose bytes are sent as the request body
--   BENCH_LUA        an endpoint-specific wrk script loaded after the above;
--                    it may define request()/response()/init(), never done()
-- Headers come from wrk's own -H options.
--
-- done() prints one parseable line (times in milliseconds):
--   BENCH requests=N duration_s=S rps=R p50_ms=A p99_ms=B mean_ms=M max_ms=X
--         bytes_per_req=Y non2xx=N errors=E err_connect=C err_read=R
--         err_write=W err_timeout=T

local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then
   wrk.method = method
end

local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
   local f = assert(io.open(body_file, "rb"))
   wrk.body = f:read("*a")
   f:close()
end

local extra = os.getenv("BENCH_LUA")
if extra and extra ~= "" then
   dofile(extra)
end

function done(summary, latency, requests)
   local e = summary.errors
   local n = summary.requests
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f " ..
      "mean_ms=%.3f max_ms=%.3f bytes_per_req=%.1f non2xx=%d errors=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
      n, secs, n / secs,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      latency.mean / 1000, latency.max / 1000,
      n > 0 and summary.bytes / n or 0,
      e.status, e.connect + e.read + e.write + e.timeout,
      e.connect, e.read, e.write, e.timeout))
end
