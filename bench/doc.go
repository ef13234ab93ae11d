// Package bench will hold the end-to-end benchmark harness: a producer and consumers against
// the local emulators or a real stream, reporting throughput, latency and cost.
//
// Nothing is implemented here yet. Package-level benchmarks live beside their packages
// (`make bench` runs them against the local emulators).
package bench
