-- issue_post.lua -- POST /api/v1/issues into one of the 20 projects of the
-- data set at random (BENCH_PROJECT_IDS: a file with one id per line,
-- written by setup_issue_post), with the title, description, priority and
-- type of bench/issue_post.json, which pgbench (bench/issue_post.sql) uses
-- too. No Idempotency-Key.

local projects = {}
local template

function init(args)
   local f = assert(io.open(assert(os.getenv("BENCH_PROJECT_IDS")), "r"))
   for line in f:lines() do
      projects[#projects + 1] = line
   end
   f:close()
   assert(#projects > 0, "no projects")
   -- wrk.body is bench/issue_post.json (report.lua): swap its project_id
   template = assert(wrk.body, "no request body")
   assert(template:find('"project_id":"[^"]*"'), "no project_id in the body")
   math.randomseed(os.time() + tonumber(tostring(projects):match("0x(%x+)") or "0", 16))
end

function request()
   local body = template:gsub('"project_id":"[^"]*"',
                              '"project_id":"' .. projects[math.random(#projects)] .. '"', 1)
   return wrk.format(nil, nil, nil, body)
end
