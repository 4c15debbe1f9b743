// Package loadgen drives medispatcher with a reproducible load and measures
// what comes out: an open-loop producer puts main-tube jobs at a fixed
// arrival rate, the fake subscriber farm (loadgen/farm) records every push,
// and an exact ledger closes each run: sent == delivered + lost + still in
// flight, duplicates counted apart.
//
// Latency is always taken from a message's scheduled send time, never from
// when the producer got round to sending it, so a producer that falls
// behind cannot hide a slow system (no coordinated omission); a run whose
// producer fell behind by more than Config.MaxLag, or whose ledger does not
// balance, is void and must never be quoted.
//
// loadgen talks to loopback servers only and never touches tubes or
// subscriptions other than its own (topics "lg.tNNNN", ids from FirstSubID).
package loadgen

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/BurntSushi/toml"

	"medispatcher/internal/config"
	"medispatcher/loadgen/farm"
)

// Class is one class of topics: how many, how many subscriptions each, and
// how their subscribers behave.
type Class struct {
	farm.Profile
	Topics       int `toml:"topics" json:"topics"`                 // topics in this class
	SubsPerTopic int `toml:"subs_per_topic" json:"subs_per_topic"` // default Config.SubsPerTopic
	Concurrency  int `toml:"concurrency" json:"concurrency"`       // registered push routines; 0: daemon default
	TimeoutMS    int `toml:"timeout_ms" json:"timeout_ms"`         // registered push timeout; 0: daemon default
}

// Config of a run. Zero values take the defaults of Defaults.
type Config struct {
	Servers       []string // beanstalkd addresses (QueueServerAddr)
	MainTube      string   // NameOfMainQueue
	ChannelPrefix string   // PrefixOfChannelQueue

	Classes      []Class // topic classes; default one "default" class of Topics topics
	Topics       int     // used when Classes is empty
	SubsPerTopic int
	FirstSubID   int64

	Rate     float64       // messages per second over all topics
	Size     int           // approximate main-tube job size in bytes
	Warmup   time.Duration // produced, not timed
	Duration time.Duration // steady phase: produced and timed
	Drain    time.Duration // longest wait for the backlog to empty after the steady phase
	MaxLag   time.Duration // producer lateness beyond which the run is void
	Workers  int           // producer goroutines (concurrent puts)

	// Subscriptions: SubsFile ("file:" source), RedisAddr (redis source)
	// or Database (mysql source: the 2.x tables); none, or Register false,
	// uses subscriptions that already exist.
	Register     bool
	SubsFile     string
	RedisAddr    string
	RedisPrefix  string
	Database     *config.DatabaseConfig
	ProbeTimeout time.Duration // wait for the daemon to push to every live subscription

	FarmAddr string // the in-process farm's listen address
	// Farm, if set, is the farm the run uses (NewFarm of this Config)
	// instead of starting one and closing it at its end: it stays open
	// after the run, for its caller to close (see NewFarm).
	Farm *farm.Farm

	// Metrics are the daemons' /metrics URLs: their stage timings
	// (medispatcher_stage_seconds, summed over them) from just before
	// the producer starts to the end of the drain go into the report
	// (Report.Stages); none: no stage timings.
	Metrics []string

	Progress         io.Writer // live progress; nil: none
	ProgressInterval time.Duration
	TTY              bool // redraw one line instead of printing lines
	// OnSteady, if set, is called when the steady phase starts (e.g. to
	// take a CPU profile of the daemon while it is measured).
	OnSteady func()
	Logger   *slog.Logger
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Servers:       []string{"127.0.0.1:11300"},
		MainTube:      "event_center_messages",
		ChannelPrefix: "sub-queue/",
		Topics:        50,
		SubsPerTopic:  1,
		FirstSubID:    1,
		Rate:          1000,
		Size:          512,
		Warmup:        2 * time.Second,
		Duration:      10 * time.Second,
		Drain:         30 * time.Second,
		MaxLag:        time.Second,
		Workers:       128,
		Register:      true,
		RedisPrefix:   "{medispatcher}",
		ProbeTimeout:  30 * time.Second,
		FarmAddr:      "127.0.0.1:0",
	}
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("loadgen: bad configuration")

// Check reports the configuration error Run would (wrapping ErrConfig)
// without running anything; c and its classes are left as they are.
func (c Config) Check() error {
	c.Classes = slices.Clone(c.Classes)
	return c.normalize()
}

// normalize fills in the defaults of the fields left zero and checks
// what is left.
func (c *Config) normalize() error {
	d := Defaults()
	if len(c.Servers) == 0 {
		c.Servers = d.Servers
	}
	c.MainTube = cmp.Or(c.MainTube, d.MainTube)
	c.ChannelPrefix = cmp.Or(c.ChannelPrefix, d.ChannelPrefix)
	c.FarmAddr = cmp.Or(c.FarmAddr, d.FarmAddr)
	c.RedisPrefix = cmp.Or(c.RedisPrefix, d.RedisPrefix)
	positiveOr(&c.SubsPerTopic, d.SubsPerTopic)
	positiveOr(&c.FirstSubID, d.FirstSubID)
	positiveOr(&c.Size, d.Size)
	positiveOr(&c.Workers, d.Workers)
	positiveOr(&c.MaxLag, d.MaxLag)
	positiveOr(&c.ProbeTimeout, d.ProbeTimeout)
	positiveOr(&c.ProgressInterval, time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := c.normalizeClasses(d.Topics); err != nil {
		return err
	}
	if c.Rate <= 0 || c.Duration <= 0 || c.Warmup < 0 || c.Drain < 0 {
		return fmt.Errorf("%w: rate and duration must be > 0, warm-up and drain >= 0", ErrConfig)
	}
	return nil
}

// positiveOr sets *v to d unless *v is above zero.
func positiveOr[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// normalizeClasses makes one "default" class of Topics topics (default
// defTopics) when there is none, checks every class, and sets Topics to
// their sum.
func (c *Config) normalizeClasses(defTopics int) error {
	if len(c.Classes) == 0 {
		if c.Topics <= 0 {
			c.Topics = defTopics
		}
		c.Classes = []Class{{Profile: farm.Profile{Name: "default"}, Topics: c.Topics}}
	}
	total := 0
	for i := range c.Classes {
		cl := &c.Classes[i]
		if err := cl.Profile.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if cl.Topics <= 0 {
			return fmt.Errorf("%w: class %q has no topics", ErrConfig, cl.Name)
		}
		if cl.SubsPerTopic <= 0 {
			cl.SubsPerTopic = c.SubsPerTopic
		}
		total += cl.Topics
	}
	c.Topics = total
	if total > 9999 {
		return fmt.Errorf("%w: %d topics (at most 9999)", ErrConfig, total)
	}
	return nil
}

// ClassFile is the TOML form of a set of classes (`--profiles FILE`):
//
//	[[class]]
//	name = "fast"
//	topics = 499
//	latency = "uniform:0s:1ms"
//	[[class]]
//	name = "slow"
//	topics = 1
//	latency = "fixed:2s"
type ClassFile struct {
	Class []Class `toml:"class"`
}

// LoadClasses reads a ClassFile.
func LoadClasses(path string) ([]Class, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profiles %s: %w", path, err)
	}
	var cf ClassFile
	md, err := toml.Decode(string(data), &cf)
	if err != nil {
		return nil, fmt.Errorf("parse profiles %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("parse profiles %s: unknown keys %v", path, und)
	}
	return cf.Class, nil
}
