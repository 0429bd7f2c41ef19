-- wrk script for bench/scale.sh, hit phase: absolute-form GETs of http://SCALE_ORIGIN/s/<i>, i uniformly random
-- in 0 .. SCALE_N-1 (seeded with SCALE_SEED, so every run asks the same sequence). done() prints
-- "hits-issued <requests>" (summed over threads) for the hit ratio counted at the origin.
-- Environment: SCALE_ORIGIN (host:port), SCALE_N, SCALE_SEED (1).

local origin = os.getenv("SCALE_ORIGIN") or error("SCALE_ORIGIN is not set")
local n = tonumber(os.getenv("SCALE_N") or error("SCALE_N is not set"))
local seed = tonumber(os.getenv("SCALE_SEED") or "1")
local prefix = "http://" .. origin .. "/s/"

local threads, next_id = {}, 1
function setup(t)
  t:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, t)
end

function init(args)
  wrk.headers["Host"] = origin
  math.randomseed(seed * 1000 + id)
  issued = 0
  verified = id > 1 -- wrk calls request() once on the first thread to check it; that one is never sent
end

function request()
  if verified then issued = issued + 1 else verified = true end
  return wrk.format("GET", prefix .. math.random(0, n - 1))
end

function done(summary, latency, requests)
  local r = 0
  for _, t in ipairs(threads) do r = r + t:get("issued") end
  io.write(string.format("hits-issued %.0f\n", r))
end
