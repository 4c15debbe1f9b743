package subs

// The values of circuit_breaker; empty means the daemon's CircuitBreaker.
const (
	BreakerOn  = "on"
	BreakerOff = "off"
)
