-- wrk script for `skeldir loadtest --max`: replays pre-signed requests, each exactly once.
--
-- Usage: wrk -t T -c C -d LIMIT -s replay.lua URL -- requests.tsv T
-- requests.tsv: one request per line, "path TAB name: value|name: value TAB body".
-- Thread k sends lines k, k+T, k+2T, ... Once a thread has sent its share it writes nothing
-- more; when every answer of its share has arrived it prints "done" and stops. The harness
-- interrupts wrk when all threads are done. Every response is classified here by HTTP status
-- and by the "status" field of the JSON body, so the harness can match them to row counts.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local file, nthreads = args[1], tonumber(args[2])
   reqs = {}
   local i = 0
   for line in io.lines(file) do
      if i % nthreads == tid then
         local tab1 = line:find("\t", 1, true)
         local tab2 = line:find("\t", tab1 + 1, true)
         local path = line:sub(1, tab1 - 1)
         local headers = {}
         for name, value in line:sub(tab1 + 1, tab2 - 1):gmatch("([^:|]+): ([^|]*)") do
            headers[name] = value
         end
         reqs[#reqs + 1] = wrk.format("POST", path, headers, line:sub(tab2 + 1))
      end
      i = i + 1
   end
   sent, received = 0, 0
   statuses, outcomes = {}, {}
   finished = false
end

function request()
   if tid == 0 and not verified then
      -- wrk calls request() once on thread 0 only to validate it (script_verify_request)
      -- and never sends that one: hand it the first request without consuming it.
      verified = true
      return reqs[1]
   end
   if sent == 0 then
      io.write("go ", tid, "\n")
      io.flush()
   end
   if sent >= #reqs then
      if #reqs == 0 and not finished then
         finished = true
         io.write("done ", tid, "\n")
         io.flush()
         wrk.thread:stop()
      end
      return ""  -- share sent: write nothing, keep the connection idle
   end
   sent = sent + 1
   return reqs[sent]
end

function response(status, headers, body)
   received = received + 1
   statuses[status] = (statuses[status] or 0) + 1
   local outcome = body and body:match('"status":%s*"([%w_]+)"') or "unparsed"
   outcomes[outcome] = (outcomes[outcome] or 0) + 1
   if received >= #reqs and not finished then
      finished = true
      io.write("done ", tid, "\n")
      io.flush()
      wrk.thread:stop()
   end
end

local function merge(into, from)
   for k, v in pairs(from or {}) do
      into[k] = (into[k] or 0) + v
   end
end

local function encode(t)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = string.format('"%s": %d', tostring(k), v)
   end
   return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
   local s, r = 0, 0
   local st, oc = {}, {}
   for _, thread in ipairs(threads) do
      s = s + (thread:get("sent") or 0)
      r = r + (thread:get("received") or 0)
      merge(st, thread:get("statuses"))
      merge(oc, thread:get("outcomes"))
   end
   local e = summary.errors
   io.write(string.format(
      'summary {"sent": %d, "received": %d, "statuses": %s, "outcomes": %s, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %d}}\n',
      s, r, encode(st), encode(oc), e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
      math.floor(latency.mean)))
end
