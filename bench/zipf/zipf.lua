-- wrk script for bench/zipf.sh: absolute-form proxy requests for /z/<n>.bin, n drawn Zipf(ZIPF_S) over
-- ranks 1..N (1 = most popular), seeded so that every run (and every proxy) gets the same sequence.
-- Environment: ZIPF_SIZES (file, one object size per line: line n = object n), ZIPF_ORIGIN (host:port),
-- ZIPF_S (0.9), ZIPF_SEED (1), ZIPF_STOP_AFTER (0: each thread stops after that many responses and creates
-- ZIPF_STOP_FILE; for a warm-up that ends after a number of requests rather than a time, so that a slow proxy is
-- as warm as a fast one). done() prints "zipf-issued <requests> <body bytes>": what was asked for, so
-- the script can compare it with what reached the origin (the requests still in flight at the end, at most
-- one per connection, are counted as issued).

local sizes_file = os.getenv("ZIPF_SIZES") or error("ZIPF_SIZES is not set")
local origin = os.getenv("ZIPF_ORIGIN") or error("ZIPF_ORIGIN is not set")
local s = tonumber(os.getenv("ZIPF_S") or "0.9")
local seed = tonumber(os.getenv("ZIPF_SEED") or "1")

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local sizes, cdf, n, prefix

function init(args)
  sizes = {}
  for line in io.lines(sizes_file) do sizes[#sizes + 1] = tonumber(line) end
  n = #sizes
  assert(n > 0, "no sizes in " .. sizes_file)
  cdf = {}
  local sum = 0
  for k = 1, n do
    sum = sum + k ^ -s
    cdf[k] = sum
  end
  for k = 1, n do cdf[k] = cdf[k] / sum end
  cdf[n] = 1.0
  math.randomseed(seed * 1000 + id)
  prefix = "http://" .. origin .. "/z/"
  wrk.headers["Host"] = origin
  issued, bytes = 0, 0
end

function request()
  local u = math.random()
  local lo, hi = 1, n
  while lo < hi do -- smallest k with cdf[k] >= u
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  issued = issued + 1
  bytes = bytes + sizes[lo]
  return wrk.format("GET", prefix .. lo .. ".bin")
end

local stop_after = tonumber(os.getenv("ZIPF_STOP_AFTER") or "0")
if stop_after > 0 then
  -- Only defined when needed: with a response() wrk hands every body to Lua, which costs.
  -- wrk itself runs out its -d time anyway: the file tells zipf.sh to end it (SIGINT) early.
  local seen, stop_file = 0, os.getenv("ZIPF_STOP_FILE")
  function response(status, headers, body)
    seen = seen + 1
    if seen == stop_after then
      if stop_file then io.open(stop_file, "w"):close() end
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local r, b = 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("issued")
    b = b + t:get("bytes")
  end
  io.write(string.format("zipf-issued %.0f %.0f\n", r, b))
end
