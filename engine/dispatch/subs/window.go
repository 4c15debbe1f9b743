package subs

// The values of adaptive_window; empty means the daemon's AdaptiveWindow.
const (
	WindowOn  = "on"
	WindowOff = "off"
)
