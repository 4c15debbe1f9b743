//go:build !race

package datalog

const raceEnabled = false
