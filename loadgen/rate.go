package loadgen

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseRate parses a rate in messages per second with an optional k
// (thousand) or m (million) suffix: 50000, 50k, 1.5k, 2m. It must be > 0.
func ParseRate(s string) (float64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	return v * mult, nil
}

// RateFlag is a flag.Value holding a rate written as ParseRate reads it,
// so that every command line of the load generator accepts 50k alike.
type RateFlag float64

func (r *RateFlag) String() string { return strconv.FormatFloat(float64(*r), 'f', -1, 64) }

// Set parses s with ParseRate.
func (r *RateFlag) Set(s string) error {
	v, err := ParseRate(s)
	*r = RateFlag(v)
	return err
}
