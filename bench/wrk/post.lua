-- wrk: POST a distinct signal each request (no two bodies alike, so none is a duplicate).
-- Environment: WRK_PATH, WRK_TOKEN (bearer; optional), WRK_BODY (a JSON body with "%d" where the
-- request's number goes, e.g. in the payload).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path = os.getenv("WRK_PATH")
  template = os.getenv("WRK_BODY")
  headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("WRK_TOKEN")
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
end

function request()
  counter = counter + 1
  return wrk.format("POST", path, headers, string.format(template, tid * 100000000 + counter))
end

function done(summary, latency, requests)
  local statuses = 0
  for _, thread in ipairs(threads) do statuses = statuses + (thread:get("errors") or 0) end
  io.write(string.format("JSON {\"requests\": %d, \"duration_us\": %d, \"non2xx\": %d, " ..
    "\"p50_us\": %d, \"p95_us\": %d, \"p99_us\": %d, \"connect_errors\": %d, \"timeouts\": %d}\n",
    summary.requests, summary.duration, summary.errors.status, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), summary.errors.connect, summary.errors.timeout))
end
