//go:build race

package push

// raceEnabled: the race detector allocates, so allocation counts are off.
const raceEnabled = true
