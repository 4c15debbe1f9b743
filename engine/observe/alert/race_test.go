//go:build race

package alert

// raceEnabled: the race detector allocates, so allocation counts are off.
const raceEnabled = true
