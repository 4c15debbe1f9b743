package config

// The values of AdaptiveWindow.
const (
	WindowOn  = "on"
	WindowOff = "off"
)
