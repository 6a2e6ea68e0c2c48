-- wrk script: one worker_heartbeat per POST /api/ingest, cycling through distinct workers.
-- Arguments after `--`: <workers> <requests/s, 0 for as fast as the connections go>.
-- With a rate, each wrk thread hands out send slots on a fixed schedule (a constant offered load);
-- a slot that comes due while every connection waits is sent as soon as one is free.
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_ts; int clock_gettime(int, bench_ts *); ]]
local clock = ffi.new("bench_ts")

local threads, started = {}, 0
local workers, interval_ms, counter, step, next_due

local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

function setup(thread)
  thread:set("index", started)
  started = started + 1
  table.insert(threads, thread)
end

function init(args)
  workers = tonumber(args[1])
  local rate = tonumber(args[2])
  local nthreads = tonumber(args[3])
  interval_ms = rate > 0 and 1000 * nthreads / rate or 0
  counter, step = index, nthreads
  wrk.method = "POST"
  wrk.path = "/api/ingest"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local i = counter % workers
  counter = counter + step
  local body = string.format('{"events":[{"kind":"worker_heartbeat","worker_id":"sim-%05d","cpu_percent":%d.0,'
    .. '"memory_used_gb":%d.0,"memory_total_gb":32.0,"rtt_ms":1.5,"running_tasks":%d}]}',
    i, counter % 100, 4 + counter % 28, counter % 3)
  return wrk.format(nil, nil, nil, body)
end

function delay()
  if interval_ms == 0 then return 0 end
  local now = now_ms()
  next_due = (next_due or now) + interval_ms
  local wait = next_due - now
  return wait > 0 and wait or 0
end

function done(summary, latency, requests)
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "status_errors": %d, "timeouts": %d, '
    .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, '
    .. '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
