-- wrk script for the bench: method, Accept and Authorization come from the environment, and
-- done() prints one machine-readable line with the counts and latency percentiles (in us).
local method = os.getenv("WRK_METHOD")
local accept = os.getenv("WRK_ACCEPT")
local authorization = os.getenv("WRK_AUTHORIZATION")
if method ~= nil and method ~= "" then
  wrk.method = method
end
if accept ~= nil and accept ~= "" then
  wrk.headers["Accept"] = accept
end
if authorization ~= nil and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
    "\"errors_connect\":%d,\"errors_read\":%d,\"errors_write\":%d," ..
    "\"errors_status\":%d,\"errors_timeout\":%d," ..
    "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
