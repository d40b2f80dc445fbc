-- issue_patch.lua -- PATCH /api/v1/issues/{id} with If-Match: * and a new
-- priority (the next one of low -> medium -> high -> critical -> low), so
-- that every request really changes its issue: a no-op PATCH would skip
-- the UPDATE and the event.
--
-- BENCH_PATCH_STATE names a file of "id priority" lines that scripts/bench
-- (dump_patch_state) writes right before every wrk process, so the current
-- priorities are known. Each thread takes every BENCH_THREADS-th issue and
-- walks them in order from a random start, so no two requests of a run
-- touch the same issue until a thread has gone through all of its ~100000 /
-- threads issues; it remembers what it sent for the next round.

local next_priority = { low = "medium", medium = "high", high = "critical", critical = "low" }
local counter = 0
local ids, prios = {}, {}
local pos = 1

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
end

function init(args)
   local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
   local f = assert(io.open(assert(os.getenv("BENCH_PATCH_STATE")), "r"))
   local n = 0
   for line in f:lines() do
      local id, prio = line:match("^(%S+)%s+(%S+)$")
      if id and n % nthreads == (tid or 0) then
         ids[#ids + 1] = id
         prios[#prios + 1] = prio
      end
      n = n + 1
   end
   f:close()
   assert(#ids > 0, "no issues to patch")
   math.randomseed(os.time() + tonumber(tostring(ids):match("0x(%x+)") or "0", 16))
   pos = math.random(#ids)
end

function request()
   local i = pos
   pos = pos % #ids + 1
   local p = next_priority[prios[i]] or "high"
   prios[i] = p
   return wrk.format(nil, "/api/v1/issues/" .. ids[i], nil,
                     '{"priority":"' .. p .. '"}')
end
