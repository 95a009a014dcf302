-- Replays a request plan written by the bench (bench/load.py), as fast as the server allows.
--
-- BENCH_PLAN: one request a line, "id<TAB>session<TAB>method<TAB>path<TAB>body<TAB>flags".
--   id travels as X-Request-ID, which the app echoes back, so every response names the line
--   it acknowledges. session is a 1-based line of BENCH_SESSIONS ("sessionid<TAB>csrftoken",
--   then "<TAB>grant" when the session has the take page's save grant),
--   0 for an anonymous request. flags: "hx" adds HX-Request: true.
-- BENCH_THREADS: wrk's -t, so that each thread takes the lines of its own sessions.
-- BENCH_OUT: where done() writes the summary, the status counts, the acknowledged ids, and
--   the query count and time the app reports in each response's Server-Timing header.
--
-- A session never has two writes (non-GET requests) in flight: the server sees each teacher's
-- writes in the order they were sent, so the last acknowledged value is the one the database
-- must hold. At the end of the plan it starts again from the top (wrk's -d bounds the run).

local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   threads[#threads + 1] = thread
end

local function fields(line)
   local out = {}
   for value in (line .. "\t"):gmatch("([^\t]*)\t") do
      out[#out + 1] = value
   end
   return out
end

local function load_sessions(path)
   local sessions = {}
   if path == nil or path == "" then
      return sessions
   end
   for line in io.lines(path) do
      local f = fields(line)
      sessions[#sessions + 1] = { id = f[1], csrf = f[2], grant = f[3] or "" }
   end
   return sessions
end

local function build_request(f, sessions)
   local id, session, method, path, body, flags = f[1], tonumber(f[2]), f[3], f[4], f[5], f[6]
   local headers = { ["Host"] = wrk.headers["Host"], ["X-Request-ID"] = id }
   if session > 0 then
      local s = sessions[session]
      headers["Cookie"] = "sessionid=" .. s.id .. "; csrftoken=" .. s.csrf
      headers["X-CSRFToken"] = s.csrf
      if s.grant ~= "" then
         headers["X-Save-Grant"] = s.grant
      end
   end
   if body ~= "" then
      headers["Content-Type"] = "application/x-www-form-urlencoded"
   else
      body = nil
   end
   if flags == "hx" then
      headers["HX-Request"] = "true"
   end
   -- lock: the session this write holds while in flight (0: a read or anonymous, no lock).
   local lock = (session > 0 and method ~= "GET") and session or 0
   return { id = id, lock = lock, text = wrk.format(method, path, headers, body) }
end

function init(args)
   local sessions = load_sessions(os.getenv("BENCH_SESSIONS"))
   plan, cursor, busy, inflight = {}, 1, {}, {}
   acks, statuses, query_counts = {}, {}, {}
   body_bytes, queries, server_ms, timed = 0, 0, 0, 0
   -- wrk calls request() once in thread 0 before the run to inspect it, and never sends that
   -- request: it must not hold a session.
   inspecting = thread_index == 0
   local number = 0
   for line in io.lines(os.getenv("BENCH_PLAN")) do
      local f = fields(line)
      local session = tonumber(f[2])
      local owner = session > 0 and session or number
      if owner % thread_count == thread_index then
         plan[#plan + 1] = build_request(f, sessions)
      end
      number = number + 1
   end
end

function request()
   if inspecting then
      inspecting = false
      return plan[1].text
   end
   -- The next line whose session holds no write in flight.
   for _ = 1, #plan do
      local item = plan[cursor]
      cursor = cursor % #plan + 1
      if item.lock == 0 or not busy[item.lock] then
         if item.lock > 0 then
            busy[item.lock] = true
            inflight[item.id] = item.lock
         end
         return item.text
      end
   end
   error("every session is busy: the plan needs more sessions than connections")
end

function response(status, headers, body)
   local id = headers["X-Request-ID"] or headers["x-request-id"]
   if id ~= nil and inflight[id] ~= nil then
      busy[inflight[id]] = nil
      inflight[id] = nil
   end
   statuses[status] = (statuses[status] or 0) + 1
   body_bytes = body_bytes + #body
   local timing = headers["Server-Timing"] or headers["server-timing"]
   local count = timing and timing:match('"(%d+) queries"')
   if count then
      query_counts[count] = (query_counts[count] or 0) + 1
      queries = queries + tonumber(count)
      server_ms = server_ms + tonumber(timing:match("app;dur=([%d.]+)") or 0)
      timed = timed + 1
   end
   if id ~= nil and status >= 200 and status < 300 then
      acks[#acks + 1] = id
   end
end

function done(summary, latency, requests)
   local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
   local function put(key, value)
      out:write(key, "\t", tostring(value), "\n")
   end
   put("requests", summary.requests)
   put("duration_us", summary.duration)
   put("bytes", summary.bytes)
   for _, kind in ipairs({ "connect", "read", "write", "status", "timeout" }) do
      put("error_" .. kind, summary.errors[kind])
   end
   for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
      put("latency_p" .. p .. "_us", latency:percentile(p))
   end
   put("latency_mean_us", latency.mean)
   put("latency_max_us", latency.max)
   local total_body, total_queries, total_server_ms, total_timed = 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      total_body = total_body + thread:get("body_bytes")
      total_queries = total_queries + thread:get("queries")
      total_server_ms = total_server_ms + thread:get("server_ms")
      total_timed = total_timed + thread:get("timed")
      for code, count in pairs(thread:get("statuses")) do
         put("status_" .. code, count)
      end
      for n, count in pairs(thread:get("query_counts")) do
         put("queries_" .. n, count)
      end
      for _, id in ipairs(thread:get("acks")) do
         put("ack", id)
      end
   end
   put("body_bytes", total_body)
   put("queries", total_queries)
   put("server_ms", total_server_ms)
   put("timed", total_timed)
   out:close()
end
