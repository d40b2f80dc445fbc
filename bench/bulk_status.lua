-- bulk_status.lua -- POST /api/v1/issues/bulk-status with the 1000 issue
-- ids of setup_bulk (wrk.body: bench-data/bulk-body.json, new_status
-- "in_progress"), alternating in_progress / open so that every request is
-- a valid transition of all 1000 issues. One connection (the row runs with
-- -c1 -t1), and setup_bulk sets the issues back to open before every wrk
-- process, so the first request of each process starts them.

local bodies = {}
local n = 0

function init(args)
   local b = assert(wrk.body, "no request body")
   assert(b:find('"new_status":"in_progress"', 1, true), "body is not to in_progress")
   bodies[1] = b
   bodies[2] = b:gsub('"new_status":"in_progress"', '"new_status":"open"', 1)
end

function request()
   n = n + 1
   return wrk.format(nil, nil, nil, bodies[(n - 1) % 2 + 1])
end
