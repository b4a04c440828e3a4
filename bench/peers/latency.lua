-- wrk script for bench/peers: no request or response hooks (wrk keeps its
-- static, pre-built request), only a summary line with the percentiles
-- wrk's --latency table leaves out. Values in microseconds.
done = function(summary, latency, requests)
	io.write(string.format("PERCENTILES p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
		latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
