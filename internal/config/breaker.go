package config

// The values of CircuitBreaker.
const (
	BreakerOn  = "on"
	BreakerOff = "off"
)
