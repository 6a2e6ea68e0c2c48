-- wrk script: POST /api/ingest as fast as the connections go, cycling through request bodies
-- encoded beforehand, one per line of a file (JSON bodies hold no newline).
-- Arguments after `--`: that file, and wrk's thread count (each thread starts at its own body).
-- Requests are formatted once, in init, so wrk's cost per request is a copy onto the socket.
local started = 0
local requests, counter, step

function setup(thread)
  thread:set("index", started)
  started = started + 1
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/api/ingest"
  wrk.headers["Content-Type"] = "application/json"
  requests = {}
  for line in io.lines(args[1]) do
    table.insert(requests, wrk.format(nil, nil, nil, line))
  end
  counter, step = index, tonumber(args[2])
end

function request()
  counter = counter + step
  return requests[counter % #requests + 1]
end

function done(summary, latency, requests)
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "status_errors": %d, "timeouts": %d, '
    .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
