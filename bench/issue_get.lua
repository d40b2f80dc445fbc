-- issue_get.lua -- GET /api/v1/issues/{id} over random issues of the data
-- set (bench/load_issues.sql): BENCH_ISSUE_IDS names a file with one id
-- per line, written by setup_issues in scripts/bench. Loaded by report.lua.

local paths = {}

function init(args)
   local f = assert(io.open(assert(os.getenv("BENCH_ISSUE_IDS")), "r"))
   for line in f:lines() do
      paths[#paths + 1] = "/api/v1/issues/" .. line
   end
   f:close()
   assert(#paths > 0, "no issue ids")
   -- one sequence per thread
   math.randomseed(os.time() + tonumber(tostring(paths):match("0x(%x+)") or "0", 16))
end

function request()
   return wrk.format(nil, paths[math.random(#paths)])
end
