-- wrk script for bench/scale.sh, fill phase: absolute-form GETs of http://SCALE_ORIGIN/s/0 .. /s/<N-1>, each once,
-- in order (run it with -t1: the counter is per thread). Once all N are issued, the connections that come free
-- ask for /s/done (one more origin request, hits after that) until every /s/<i> has been answered; then the
-- thread stops and SCALE_STOP_FILE is created (wrk's main thread only ends after -d, so bench/scale.sh sends it
-- SIGINT on seeing the file). A response is matched to its URL by the origin's X-Path header, which the node
-- stores with the entry. done() prints "fill <issued> <answered 200> <other statuses>".
-- Environment: SCALE_ORIGIN (host:port), SCALE_N, SCALE_STOP_FILE.

local origin = os.getenv("SCALE_ORIGIN") or error("SCALE_ORIGIN is not set")
local n = tonumber(os.getenv("SCALE_N") or error("SCALE_N is not set"))
local stop_file = os.getenv("SCALE_STOP_FILE")
local prefix = "http://" .. origin .. "/s/"
local done_path = "/s/done"

local thread
function setup(t) thread = t end

function init(args)
  wrk.headers["Host"] = origin
  issued, filled, bad, verified = 0, 0, 0, false
end

function request()
  -- wrk calls request() once on the first thread before any connection opens, to check what it returns; that
  -- request is never sent, so it must not use up a URL.
  if not verified then
    verified = true
    return wrk.format("GET", prefix .. "done")
  end
  if issued < n then
    issued = issued + 1
    return wrk.format("GET", prefix .. (issued - 1))
  end
  return wrk.format("GET", prefix .. "done")
end

function response(status, headers, body)
  local path = headers["X-Path"] or headers["x-path"]
  if path == done_path then return end
  if status == 200 then filled = filled + 1 else bad = bad + 1 end
  if filled + bad == n then
    if stop_file then io.open(stop_file, "w"):close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  io.write(string.format("fill %.0f %.0f %.0f\n", thread:get("issued"), thread:get("filled"), thread:get("bad")))
end
