-- wrk script: GET /task/{id}/status, the id picked at random from a file of ids (one per line),
-- given after `--` on wrk's command line.
local ids = {}

init = function(args)
  for line in io.lines(args[1]) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  if #ids == 0 then error("no task ids in " .. args[1]) end
  math.randomseed(os.time())
end

request = function()
  return wrk.format("GET", "/task/" .. ids[math.random(#ids)] .. "/status")
end

done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
  io.write(string.format("latency_us p50=%d p90=%d p99=%d max=%d requests=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.requests))
end
