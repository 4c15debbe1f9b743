// Package breaker is a subscription's circuit breaker: closed (pushes go
// out), open (nothing is pushed until a cool-down has passed), half-open
// (exactly one push, the probe, is in flight; its outcome closes the
// breaker or opens it again with the cool-down doubled) and disabled
// (nothing is pushed and nothing probes until the breaker is reset).
//
// It opens when, over a sliding window of whole seconds, at least
// MinPushes outcomes were recorded and the failures among them reach
// FailureShare, or after ConsecutiveErrors connection errors or time-outs
// in a row.
//
// A closed breaker costs a push one atomic load (Acquire) and one
// compare-and-swap on the current second's bucket (Record): the window is
// a ring of per-second buckets, each a single word holding its second and
// both counts, so counting is exact and lock-free and nothing is allocated
// per push. Every Breaker is one subscription's: no state is shared.
package breaker
