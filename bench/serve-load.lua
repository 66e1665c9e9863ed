-- wrk request script for bench/run-serve.sh: POST /v1/qa with real SQuAD dev
-- questions, one JSON body per line of $BODIES, taken in turn (each wrk
-- thread starts at its own offset); counts 503s apart from other non-2xx and
-- prints one JSON line of results when done.
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("offset", next_thread * 997)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  i = offset or 0
  count_503 = 0
end

function request()
  i = i + 1
  return wrk.format("POST", "/v1/qa", { ["Content-Type"] = "application/json" }, bodies[(i % #bodies) + 1])
end

function response(status, headers, body)
  if status == 503 then count_503 = count_503 + 1 end
end

function done(summary, latency, requests)
  local c503 = 0
  for _, t in ipairs(threads) do c503 = c503 + (t:get("count_503") or 0) end
  local s = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.2f, "p50_ms": %.3f, "p99_ms": %.3f, "non2xx": %d, "status_503": %d, "socket_errors": %d}\n',
    summary.requests, s, summary.requests / s, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.status, c503, errors))
end
