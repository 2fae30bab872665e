// Package bench measures a running hookd end to end: it publishes messages
// through the API to an application whose endpoints point at a built-in
// sink on 127.0.0.1, and reports publish throughput and latency, delivery
// throughput and end-to-end latency (publish call to arrival at the sink),
// duplicates and losses, and the CPU time and peak memory of the processes
// involved. `hookd bench` is its command line.
package bench
