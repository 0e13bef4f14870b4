-- wrk script: POST /send-email with a fixed small JSON body.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email": "user@example.com", "subject": "Benchmark", "body": "Hello from the benchmark."}'

-- Print non-2xx answers at the end, so an error rate is never mistaken for throughput, and the
-- latency percentiles in microseconds (benchmarks/wrk.py reads both lines).
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
  io.write(string.format("latency_us p50=%d p90=%d p99=%d max=%d requests=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.requests))
end
