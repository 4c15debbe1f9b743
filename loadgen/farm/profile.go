package farm

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// DistKind names a latency distribution.
type DistKind string

// The latency distributions a subscriber can have.
const (
	Fixed    DistKind = "fixed"    // always A
	Uniform  DistKind = "uniform"  // uniform in [A, B]
	LongTail DistKind = "longtail" // Pareto (alpha 1.5) with scale A, capped at B
)

// paretoAlpha gives a tail where p99 is about 21× the scale and p99.9
// about 100×: the shape of real web back ends with a slow database call.
const paretoAlpha = 1.5

// Dist is a latency distribution, written "fixed:2ms", "uniform:1ms:5ms"
// or "longtail:1ms:2s" (scale, cap). The empty string is fixed:0.
type Dist struct {
	Kind DistKind
	A, B time.Duration
}

// ParseDist parses the textual form of a Dist.
func ParseDist(s string) (Dist, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Dist{Kind: Fixed}, nil
	}
	parts := strings.Split(s, ":")
	d := Dist{Kind: DistKind(parts[0])}
	durs := make([]time.Duration, 0, 2)
	for _, p := range parts[1:] {
		v, err := time.ParseDuration(p)
		if err != nil || v < 0 {
			return Dist{}, fmt.Errorf("parse latency %q: bad duration %q", s, p)
		}
		durs = append(durs, v)
	}
	want := 2
	if d.Kind == Fixed {
		want = 1
	}
	switch d.Kind {
	case Fixed, Uniform, LongTail:
	default:
		return Dist{}, fmt.Errorf("parse latency %q: kind must be fixed, uniform or longtail", s)
	}
	if len(durs) != want {
		return Dist{}, fmt.Errorf("parse latency %q: %s takes %d duration(s)", s, d.Kind, want)
	}
	d.A = durs[0]
	if want == 2 {
		d.B = durs[1]
		if d.B < d.A {
			return Dist{}, fmt.Errorf("parse latency %q: upper bound below lower bound", s)
		}
	}
	return d, nil
}

// Sample maps u, uniform in [0, 1), to a latency.
func (d Dist) Sample(u float64) time.Duration {
	switch d.Kind {
	case Uniform:
		return d.A + time.Duration(u*float64(d.B-d.A))
	case LongTail:
		v := float64(d.A) / math.Pow(1-u, 1/paretoAlpha)
		if v > float64(d.B) {
			return d.B
		}
		return time.Duration(v)
	}
	return d.A
}

func (d Dist) String() string {
	switch d.Kind {
	case Uniform, LongTail:
		return fmt.Sprintf("%s:%v:%v", d.Kind, d.A, d.B)
	case "":
		return "fixed:0s"
	}
	return fmt.Sprintf("%s:%v", d.Kind, d.A)
}

// UnmarshalText lets TOML and flags carry a Dist as a string.
func (d *Dist) UnmarshalText(b []byte) error {
	v, err := ParseDist(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes the textual form.
func (d Dist) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Set implements flag.Value.
func (d *Dist) Set(s string) error { return d.UnmarshalText([]byte(s)) }

// ErrorKind is how a failing answer fails.
type ErrorKind string

// The failures a subscriber can answer with.
const (
	Err500     ErrorKind = "500"     // HTTP 500
	ErrStatus0 ErrorKind = "status0" // HTTP 200 with {"status":0}
	ErrTimeout ErrorKind = "timeout" // hang for Profile.Hang, then {"status":0}
)

// Profile is how the subscribers of one class of topics behave.
type Profile struct {
	Name       string    `toml:"name" json:"name"`
	Latency    Dist      `toml:"latency" json:"latency"`         // processing time before answering
	ErrorRatio float64   `toml:"error_ratio" json:"error_ratio"` // share of pushes answered with a failure
	ErrorKind  ErrorKind `toml:"error_kind" json:"error_kind"`   // default "500"
	Hang       Duration  `toml:"hang" json:"hang"`               // ErrTimeout's wait; default 6 s
	// Dead subscribers' URLs point at a port nobody listens on.
	Dead bool `toml:"dead" json:"dead"`
	// RateLimit > 0: the subscription is registered with this token
	// bucket (Rate per second, Burst) and the farm counts pushes that
	// arrive faster than it allows.
	RateLimit float64 `toml:"rate_limit" json:"rate_limit"`
	Burst     int     `toml:"burst" json:"burst"`
	// Outage > 0: the subscribers refuse connections from OutageStart
	// after the run's start for Outage, then accept again on the same
	// port (see Farm.SetWindow).
	OutageStart Duration `toml:"outage_start" json:"outage_start,omitempty"`
	Outage      Duration `toml:"outage" json:"outage,omitempty"`
	// OverloadAt > 0: a subscriber of the class that already has this
	// many message pushes in flight answers one more with 503 at once
	// (no Retry-After). SlowAt > 0: beyond this many in flight, each
	// answer takes SlowLatency longer. See capacity.go.
	OverloadAt  int      `toml:"overload_at" json:"overload_at,omitempty"`
	SlowAt      int      `toml:"slow_at" json:"slow_at,omitempty"`
	SlowLatency Duration `toml:"slow_latency" json:"slow_latency,omitempty"`
}

// Validate checks a profile and fills its defaults.
func (p *Profile) Validate() error {
	if p.Name == "" {
		p.Name = "default"
	}
	if strings.ContainsAny(p.Name, "&?#/ ") {
		return fmt.Errorf("profile %q: name must be URL-safe", p.Name)
	}
	if p.Latency.Kind == "" {
		p.Latency.Kind = Fixed
	}
	if p.ErrorRatio < 0 || p.ErrorRatio > 1 {
		return fmt.Errorf("profile %q: error_ratio %v outside [0,1]", p.Name, p.ErrorRatio)
	}
	switch p.ErrorKind {
	case "":
		p.ErrorKind = Err500
	case Err500, ErrStatus0, ErrTimeout:
	default:
		return fmt.Errorf("profile %q: error_kind %q (want 500, status0 or timeout)", p.Name, p.ErrorKind)
	}
	if p.Hang <= 0 {
		p.Hang = Duration(6 * time.Second)
	}
	if p.RateLimit < 0 || p.Burst < 0 {
		return fmt.Errorf("profile %q: negative rate_limit or burst", p.Name)
	}
	if p.RateLimit > 0 && p.Burst == 0 {
		p.Burst = 1
	}
	if err := p.validateOutage(); err != nil {
		return err
	}
	return p.validateCapacity()
}

// validateOutage checks the outage window: not negative, a start only with
// a length, and never on a dead class, which has no port to take down.
func (p *Profile) validateOutage() error {
	switch {
	case p.OutageStart < 0 || p.Outage < 0:
		return fmt.Errorf("profile %q: negative outage_start or outage", p.Name)
	case p.OutageStart > 0 && p.Outage == 0:
		return fmt.Errorf("profile %q: outage_start without outage", p.Name)
	case p.Outage > 0 && p.Dead:
		return fmt.Errorf("profile %q: a dead class cannot have an outage", p.Name)
	}
	return nil
}

// HasOutage reports whether the class's subscribers go down for a while.
func (p *Profile) HasOutage() bool { return p.Outage > 0 }

// Duration is a time.Duration written as "2s" in TOML and JSON.
type Duration time.Duration

// UnmarshalText parses "250ms", "6s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the Go form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
