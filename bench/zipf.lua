-- bench/zipf.lua -- wrk script for the Zipf workload of bench/run.
--
--   wrk -t T -c C -d 600s -s bench/zipf.lua http://127.0.0.1:PORT -- PATHS T DONEDIR IDLE
--
-- PATHS holds one request path per line (the Zipf-distributed sequence).
-- Thread i sends lines i, i+T, i+2T, ... once each, in order. After its
-- share it only asks for IDLE (a location that answers 204 without touching
-- any cache), slowly, until bench/run stops wrk. It writes DONEDIR/sent-i
-- when its whole share has been handed to wrk and DONEDIR/done-i once every
-- request of its share has been answered. done() prints one "zipf-thread"
-- line per thread with its counters.
--
-- wrk calls request() once on thread 0's state before the run, to check
-- the script, and never sends that request: so every thread's list starts
-- with IDLE, which that check (or thread 1's first connection) takes.

local threads = {}
local nthreads = 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   table.insert(threads, thread)
end

function init(args)
   idlepath = args[4]
   paths = { idlepath }
   local n, i = tonumber(args[2]), 0
   for line in io.lines(args[1]) do
      if i % n == tid then
         paths[#paths + 1] = line
      end
      i = i + 1
   end
   share = #paths - 1
   donefile = args[3] .. "/done-" .. tid
   sentfile = args[3] .. "/sent-" .. tid
   idle = wrk.format("GET", idlepath)
   nextp, sent, answered, hits, others, bad, finished = 1, 0, 0, 0, 0, 0, 0
end

local function touch(name)
   local f = io.open(name, "w")
   if f then
      f:close()
   end
end

function delay()
   if nextp > #paths then
      return 1000
   end
   return 0
end

function request()
   if nextp <= #paths then
      local p = paths[nextp]
      nextp = nextp + 1
      if nextp > #paths then
         touch(sentfile)
      end
      if p == idlepath then
         return idle
      end
      sent = sent + 1
      return wrk.format("GET", p)
   end
   return idle
end

function response(status, headers, body)
   if status == 204 then
      return
   end
   answered = answered + 1
   if status ~= 200 then
      bad = bad + 1
   elseif headers["X-Cache"] == "HIT" then
      hits = hits + 1
   else
      others = others + 1
   end
   if finished == 0 and answered >= share then
      finished = 1
      touch(donefile)
   end
end

function done(summary, latency, requests)
   for _, t in ipairs(threads) do
      io.write(string.format("zipf-thread %d share=%d sent=%d answered=%d hits=%d other=%d non200=%d\n",
                             t:get("tid"), t:get("share"), t:get("sent"), t:get("answered"),
                             t:get("hits"), t:get("others"), t:get("bad")))
   end
   io.write(string.format("zipf-latency p50=%d p99=%d\n", latency:percentile(50), latency:percentile(99)))
end
