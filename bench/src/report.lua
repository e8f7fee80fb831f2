-- wrk reporting hook: one JSON line after the run, no per-request Lua (which would slow wrk).
-- Latencies are in microseconds; errors.status counts responses outside 2xx/3xx.
-- BENCH_DELAY_MS (paced runs only): each connection waits that many ms before each request.
-- BENCH_COOKIES (a file, one Cookie header a line): each request carries the next one in turn
-- (many users over each connection); the only case with per-request Lua.
local pace = tonumber(os.getenv('BENCH_DELAY_MS') or '')
if pace then
  delay = function() return pace end
end
local cookieFile = os.getenv('BENCH_COOKIES')
if cookieFile then
  local cookies = {}
  for line in io.lines(cookieFile) do cookies[#cookies + 1] = line end
  local at = 0
  request = function()
    at = at % #cookies + 1
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers['Cookie'] = cookies[at]
    return wrk.format(nil, nil, headers)
  end
end
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
