-- wrk script: RFC 8693 token exchange at Deputy's POST /token, as incident-agent, for jane's token.
-- Used by benchmarks/token_exchange.py; standalone:
--   SUBJECT_TOKEN=$(.venv/bin/deputy token user jane --client incident-agent) \
--     wrk -t2 -c16 -d10s -s benchmarks/exchange.lua http://127.0.0.1:8000/token
-- With BODIES_FILE (private_key_jwt: one form body per line, each with its own client assertion),
-- thread n of WRK_THREADS sends lines n, n + WRK_THREADS, ... once each, and no Basic credentials.
-- Counts every non-200 response (wrk itself only counts non-2xx/3xx) and, when done, prints one
-- line "WRK_JSON {...}" with requests, duration, latency percentiles (microseconds) and errors.
--
-- With RATE (total requests/s) the load is paced instead of back to back: each of the WRK_THREADS
-- threads sends RATE / WRK_THREADS requests/s on its own schedule, request k of a thread due at
-- start + k / thread_rate (start = the thread's first delay() call). wrk asks delay() before each
-- request of a connection; it claims the thread's next slot and returns the wait in whole ms
-- (wrk's timers tick in ms: a request goes out up to ~1 ms before its slot when the thread wakes on
-- time and a connection is free). wrk times latency from the actual send, so a server that
-- falls behind (no free connection when a slot is due) would hide the wait: request() measures
-- how late each send is against its slot (slots are matched to sends in order) and WRK_JSON gets
-- "sent", "late" (sends > 1 ms after their slot), "late_no_conn" (slots claimed > 1 ms after they
-- were due: no connection was free), "max_late_us", "total_late_us" and "unscheduled" (sends
-- without a slot, e.g. a request re-sent after a reconnect).

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local subject_token = os.getenv("SUBJECT_TOKEN")
if subject_token == nil or subject_token == "" then
  error("set SUBJECT_TOKEN to a user token issued to incident-agent")
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- base64("incident-agent:incident-agent-dev-secret"): the development realm's credentials.
wrk.headers["Authorization"] = "Basic aW5jaWRlbnQtYWdlbnQ6aW5jaWRlbnQtYWdlbnQtZGV2LXNlY3JldA=="
wrk.body = table.concat({
  "grant_type=" .. urlencode("urn:ietf:params:oauth:grant-type:token-exchange"),
  "subject_token=" .. urlencode(subject_token),
  "subject_token_type=" .. urlencode("urn:ietf:params:oauth:token-type:access_token"),
  "audience=" .. urlencode("https://incidents.example"),
}, "&")

-- Each wrk thread has its own Lua state: count there, add up in done().
local threads = {}
local bodies_file = os.getenv("BODIES_FILE")
local thread_count = tonumber(os.getenv("WRK_THREADS") or "1")
local rate = tonumber(os.getenv("RATE") or "")
if rate ~= nil and rate <= 0 then
  error("RATE must be a positive number of requests/s")
end

-- wrk's Lua has no sub-second clock: CLOCK_MONOTONIC through LuaJIT's FFI, in microseconds.
local now_us
if rate ~= nil then
  local ffi = require("ffi")
  ffi.cdef([[
    typedef struct { long tv_sec; long tv_nsec; } deputy_bench_timespec;
    int clock_gettime(int clk_id, deputy_bench_timespec *tp);
  ]])
  local CLOCK_MONOTONIC = 1  -- Linux
  local ts = ffi.new("deputy_bench_timespec")
  now_us = function()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
  end
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  statuses = {}
  -- pacing state and schedule lag (globals: done() reads them with thread:get)
  sent, late, late_no_conn, unscheduled, max_late_us, total_late_us = 0, 0, 0, 0, 0, 0
  if rate ~= nil then
    interval_us = 1e6 / (rate / thread_count)
    slot, queue, head, tail = 0, {}, 1, 0  -- due times of claimed slots not yet sent, oldest first
  end
  if bodies_file ~= nil and bodies_file ~= "" then
    wrk.headers["Authorization"] = nil
    bodies, next_body = {}, 1
    local n = 0
    for line in io.lines(bodies_file) do
      if n % thread_count == id then
        table.insert(bodies, line)
      end
      n = n + 1
    end
  end
end

-- Only with RATE: wrk calls delay() before every request when the script defines it.
if rate ~= nil then
  function delay()
    local now = now_us()
    if start_us == nil then
      start_us = now
    end
    local due = start_us + slot * interval_us
    slot = slot + 1
    tail = tail + 1
    queue[tail] = due
    if now - due > 1000 then
      late_no_conn = late_no_conn + 1  -- this connection came free only after the slot was due
    end
    if due <= now then
      return 0
    end
    -- Whole ms (wrk would truncate a fraction anyway; its timers are ms). Rounding down, a request
    -- whose thread wakes promptly goes out up to ~1 ms early (a little more if a response wakes the
    -- thread first), never late by the rounding: more than 1 ms late then means the thread woke up
    -- late (CPU) or no connection was free. Rounding up instead made ~30 % of sends "late" on a busy
    -- 2-core machine against a server that answers in 0.2 ms.
    return math.floor((due - now) / 1000)
  end
end

local function record_lag()
  if start_us == nil then
    return  -- wrk calls request() once on thread 0 before the run to check the script: not a send
  end
  if head > tail then
    unscheduled = unscheduled + 1
    return
  end
  local due = queue[head]
  queue[head] = nil
  head = head + 1
  local lag = now_us() - due
  sent = sent + 1
  if lag > 1000 then
    late = late + 1
  end
  if lag > 0 then
    total_late_us = total_late_us + lag
    if lag > max_late_us then
      max_late_us = lag
    end
  end
end

function request()
  if rate ~= nil then
    record_lag()
  end
  if bodies == nil then
    return wrk.request()
  end
  local body = bodies[next_body]
  if body == nil then
    error("BODIES_FILE exhausted: make more assertions")
  end
  next_body = next_body + 1
  return wrk.format("POST", nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total_non200, merged = 0, {}
  local lag = {sent = 0, late = 0, late_no_conn = 0, unscheduled = 0, total_late_us = 0, max_late_us = 0}
  for _, thread in ipairs(threads) do
    total_non200 = total_non200 + thread:get("non200")
    for _, key in ipairs({"sent", "late", "late_no_conn", "unscheduled", "total_late_us"}) do
      lag[key] = lag[key] + thread:get(key)
    end
    lag.max_late_us = math.max(lag.max_late_us, thread:get("max_late_us"))
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%s":%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non_200":%d,' ..
    '"statuses":{%s},"connect":%d,"read":%d,"write":%d,"timeout":%d,"rate":%s,"threads":%d,' ..
    '"sent":%d,"late":%d,"late_no_conn":%d,"unscheduled":%d,"max_late_us":%d,"total_late_us":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    total_non200, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout,
    rate and string.format("%.17g", rate) or "null", thread_count, lag.sent, lag.late, lag.late_no_conn,
    lag.unscheduled, math.floor(lag.max_late_us), math.floor(lag.total_late_us)))
end
