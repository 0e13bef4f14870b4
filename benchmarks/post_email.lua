-- wrk script: POST /send-email with a fixed small JSON body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email": "user@example.com", "subject": "Benchmark", "body": "Hello from the benchmark."}'

-- Print non-2xx answers at the end, so an error rate is never mistaken for throughput.
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end
