-- wrk script: RFC 8693 token exchange at Deputy's POST /token, as incident-agent, for jane's token.
-- Used by benchmarks/token_exchange.py; standalone:
--   SUBJECT_TOKEN=$(.venv/bin/deputy token user jane --client incident-agent) \
--     wrk -t2 -c16 -d10s -s benchmarks/exchange.lua http://127.0.0.1:8000/token
-- With BODIES_FILE (private_key_jwt: one form body per line, each with its own client assertion),
-- thread n of WRK_THREADS sends lines n, n + WRK_THREADS, ... once each, and no Basic credentials.
-- Counts every non-200 response (wrk itself only counts non-2xx/3xx) and, when done, prints one
-- line "WRK_JSON {...}" with requests, duration, latency percentiles (microseconds) and errors.

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

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  statuses = {}
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

function request()
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
  for _, thread in ipairs(threads) do
    total_non200 = total_non200 + thread:get("non200")
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
    '"statuses":{%s},"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    total_non200, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout))
end
