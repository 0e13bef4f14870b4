-- wrk script: exactly N POST /send-email (N after `--` on wrk's command line; one wrk thread),
-- then GET /healthz until the last POST is answered, then stop. Prints accepted (202) and
-- failed POSTs at the end. wrk calls request() once before the run, on its first thread, only
-- to check the request it returns; that call is not counted.
local body = '{"email": "user@example.com", "subject": "Benchmark", "body": "Hello from the benchmark."}'
local threads = {}
local post = nil
local checked = false
limit, issued, answered, accepted = 0, 0, 0, 0

setup = function(thread)
  threads[#threads + 1] = thread
end

init = function(args)
  limit = tonumber(args[1])
  post = wrk.format("POST", "/send-email", {["Content-Type"] = "application/json"}, body)
end

request = function()
  if not checked then
    checked = true
    return post
  end
  if issued < limit then
    issued = issued + 1
    return post
  end
  return wrk.format("GET", "/healthz")
end

response = function(status, headers, body)
  if status ~= 200 then  -- 200 is /healthz; a POST answers 202 or an error
    answered = answered + 1
    if status == 202 then accepted = accepted + 1 end
    if answered >= limit then wrk.thread:stop() end
  end
end

done = function(summary, latency, requests)
  local total_accepted, total_answered = 0, 0
  for _, thread in ipairs(threads) do
    total_accepted = total_accepted + thread:get("accepted")
    total_answered = total_answered + thread:get("answered")
  end
  io.write(string.format("accepted=%d failed=%d\n", total_accepted, total_answered - total_accepted))
end
