// Package bench is `make bench`: it runs the scenario files of
// bench/scenarios, each against its own beanstalkd, redis-server and
// medispatcher on loopback, measures the machine's ceiling in the same
// run, and writes the results as a markdown section of BENCHMARKS.md, SVG
// plots and raw JSON reports.
//
// Only valid runs are ever written as figures: a void run (see loadgen) is
// shown as void with its reasons. It never touches servers it did not start.
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"medispatcher/loadgen"
	"medispatcher/loadgen/farm"
)

// Scenario kinds.
const (
	KindFixed      = "fixed"      // one run at Rate
	KindThroughput = "throughput" // step the rate up until the backlog grows
	KindLatency    = "latency"    // one run at Fraction of another scenario's max
	KindIsolation  = "isolation"  // a baseline run of the Baseline classes, then all classes
	KindCompare    = "compare"    // Repeat pairs of runs, daemon keys On vs Off, at Fraction of another scenario's max
	KindPublish    = "publish"    // raw puts vs the HTTP publish API, single and batched, flat out at Rate; then paced (see publish.go)
)

// Defaults of the fields that depend on the kind.
const (
	defaultLatencyFraction = 0.5 // latency: half load, where latency is quoted
	defaultCompareFraction = 1.3 // compare: an overload, so delivery measures capacity
	defaultRepeat          = 3
)

// Scenario is one TOML file of bench/scenarios: the reproduction record.
type Scenario struct {
	Name        string          `toml:"name"`
	Description string          `toml:"description"`
	Kind        string          `toml:"kind"`
	Servers     int             `toml:"servers"` // beanstalkd instances; default 1
	Daemons     int             `toml:"daemons"` // medispatcher processes sharing the servers; default 1
	Source      string          `toml:"source"`  // "file" (default), "redis" or "mysql" (see SourceFile ...)
	Binlog      string          `toml:"binlog"`  // beanstalkd durability: "off" (default), "on" (-b DIR), "fsync" (-b DIR -f 0)
	Size        int             `toml:"size"`
	Rate        float64         `toml:"rate"`     // fixed rate, first step, or isolation rate
	Step        float64         `toml:"step"`     // throughput: rate multiplier per step; default 1.5
	MaxRate     float64         `toml:"max_rate"` // throughput: stop there
	Of          string          `toml:"of"`       // latency, compare: the throughput scenario
	Fraction    float64         `toml:"fraction"` // latency, compare: multiple of its max; default 0.5 (latency), 1.3 (compare)
	Baseline    []string        `toml:"baseline"` // isolation: classes of the baseline run
	Repeat      int             `toml:"repeat"`   // compare: pairs of runs (on, off, on, off, ...); default 3
	Goal        float64         `toml:"goal"`     // compare: on ÷ off delivered rate aimed at; 0: none. Reported, never enforced
	On          map[string]any  `toml:"on"`       // compare: daemon keys of the "on" runs, over [daemon]
	Off         map[string]any  `toml:"off"`      // compare: daemon keys of the "off" runs, over [daemon]
	Warmup      farm.Duration   `toml:"warmup"`
	Duration    farm.Duration   `toml:"duration"`
	Drain       farm.Duration   `toml:"drain"`
	FaultFree   *bool           `toml:"fault_free"` // lost or duplicated messages fail the scenario; default true
	Pprof       bool            `toml:"pprof"`      // save a CPU profile of the daemon
	Trace       bool            `toml:"trace"`      // save an execution trace of the daemon (a run of its own at the quoted rate)
	Daemon      map[string]any  `toml:"daemon"`     // extra daemon configuration keys
	Class       []loadgen.Class `toml:"class"`
	Concurrency int             `toml:"concurrency"` // publish: puts or requests in flight; default 16
	Batch       int             `toml:"batch"`       // publish: messages per batch request; default 100

	File string `toml:"-"`
	Text string `toml:"-"`
}

// IsFaultFree reports whether lost or duplicated messages fail the scenario.
func (s *Scenario) IsFaultFree() bool { return s.FaultFree == nil || *s.FaultFree }

// LoadScenarios reads every *.toml of dir, in file name order.
func LoadScenarios(dir string) ([]*Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return nil, fmt.Errorf("list scenarios in %s: %w", dir, err)
	}
	sort.Strings(files)
	var out []*Scenario
	names := map[string]bool{}
	kinds := map[string]string{}
	for _, f := range files {
		s, err := LoadScenario(f)
		if err != nil {
			return nil, err
		}
		if names[s.Name] {
			return nil, fmt.Errorf("scenario %s: name %q used twice", f, s.Name)
		}
		names[s.Name] = true
		if (s.Kind == KindLatency || s.Kind == KindCompare) && !names[s.Of] {
			return nil, fmt.Errorf("scenario %s: of = %q must name an earlier scenario", f, s.Of)
		}
		if s.Kind == KindCompare {
			if k := kinds[s.Of]; k != KindThroughput {
				return nil, fmt.Errorf("scenario %s: of = %q is a %s scenario; compare starts from a throughput one", f, s.Of, k)
			}
		}
		kinds[s.Name] = s.Kind
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenarios in %s", dir)
	}
	return out, nil
}

// selectScenarios keeps the scenarios named in only (all when only is
// empty), in their order; a name that is no scenario, or a kept latency or
// compare scenario whose throughput scenario is not kept, is an error.
func selectScenarios(scs []*Scenario, only []string) ([]*Scenario, error) {
	if len(only) == 0 {
		return scs, nil
	}
	want := map[string]bool{}
	for _, n := range only {
		want[strings.TrimSpace(n)] = true
	}
	var out []*Scenario
	found := map[string]bool{}
	for _, s := range scs {
		if want[s.Name] {
			if s.Of != "" && !want[s.Of] {
				return nil, fmt.Errorf("--only: %s builds on %s: name it too", s.Name, s.Of)
			}
			out = append(out, s)
			found[s.Name] = true
		}
	}
	if len(found) < len(want) {
		var missing []string
		for n := range want {
			if !found[n] {
				missing = append(missing, n)
			}
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("--only: no scenario %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// LoadScenario reads and checks one scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	s := &Scenario{File: path, Text: string(data)}
	md, err := toml.Decode(s.Text, s)
	if err != nil {
		return nil, fmt.Errorf("parse scenario %s: %w", path, err)
	}
	// A value where a table belongs (daemon = 2 for daemons = 2) would
	// otherwise be dropped without a word.
	for _, k := range []string{"daemon", "on", "off"} {
		if md.IsDefined(k) && md.Type(k) != "Hash" {
			return nil, fmt.Errorf("scenario %s: %s must be a table ([%s])", path, k, k)
		}
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] != "daemon" && k[0] != "on" && k[0] != "off" {
			unknown = append(unknown, k.String())
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("scenario %s: unknown keys %s", path, strings.Join(unknown, ", "))
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), ".toml")
	}
	if s.Servers <= 0 {
		s.Servers = 1
	}
	if s.Daemons <= 0 {
		s.Daemons = 1
	}
	if err := s.checkFleetKeys(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	if err := s.checkSource(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	if err := checkBinlog(s.Binlog); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	if s.Binlog == "" {
		s.Binlog = BinlogOff
	}
	if s.Step <= 1 {
		s.Step = 1.5
	}
	if len(s.Class) == 0 {
		return nil, fmt.Errorf("scenario %s: no [[class]]", path)
	}
	switch s.Kind {
	case KindFixed, KindThroughput, KindIsolation, KindPublish:
		if s.Rate <= 0 {
			return nil, fmt.Errorf("scenario %s: rate must be > 0", path)
		}
	case KindLatency, KindCompare:
		if s.Of == "" {
			return nil, fmt.Errorf("scenario %s: %s needs of = \"<throughput scenario>\"", path, s.Kind)
		}
		if s.Fraction < 0 {
			return nil, fmt.Errorf("scenario %s: fraction must be > 0", path)
		}
	default:
		return nil, fmt.Errorf("scenario %s: kind %q (fixed, throughput, latency, isolation, compare, publish)", path, s.Kind)
	}
	if s.Fraction <= 0 {
		s.Fraction = defaultLatencyFraction
		if s.Kind == KindCompare {
			s.Fraction = defaultCompareFraction
		}
	}
	if s.Kind == KindCompare {
		if s.Repeat < 0 || s.Goal < 0 {
			return nil, fmt.Errorf("scenario %s: repeat and goal must not be negative", path)
		}
		if s.Repeat == 0 {
			s.Repeat = defaultRepeat
		}
		// Two variants that set the same keys would measure noise only.
		if reflect.DeepEqual(s.On, s.Off) || len(s.On)+len(s.Off) == 0 {
			return nil, fmt.Errorf("scenario %s: compare needs [on] and [off] tables that differ", path)
		}
	} else if s.Repeat != 0 || s.Goal != 0 || s.On != nil || s.Off != nil {
		// Silently ignored daemon keys would make a scenario measure
		// something other than it says.
		return nil, fmt.Errorf("scenario %s: repeat, goal, [on] and [off] are for kind compare only", path)
	}
	if err := s.checkPublishKeys(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	if s.Kind == KindIsolation && len(s.Baseline) == 0 {
		return nil, fmt.Errorf("scenario %s: isolation needs baseline = [\"<class>\", ...]", path)
	}
	return s, nil
}

// checkFleetKeys fails when a scenario of several daemons sets a daemon
// key that must differ per daemon: the daemons would share a port or a
// DATA log directory.
func (s *Scenario) checkFleetKeys() error {
	if s.Daemons <= 1 {
		return nil
	}
	var set []string
	for _, k := range perDaemonKeys {
		_, d := s.Daemon[k]
		_, on := s.On[k]
		_, off := s.Off[k]
		if d || on || off {
			set = append(set, k)
		}
	}
	if len(set) > 0 {
		return fmt.Errorf("daemons = %d: %s must differ per daemon and are set by the bench", s.Daemons, strings.Join(set, ", "))
	}
	return nil
}

// layout is what each of the scenario's runs starts.
func (s *Scenario) layout() Layout {
	return Layout{Servers: s.Servers, Daemons: s.Daemons, Binlog: s.Binlog, Source: s.Source}
}

// topics is the scenario's topics, over all its classes.
func (s *Scenario) topics() int {
	n := 0
	for _, c := range s.Class {
		n += c.Topics
	}
	return n
}

// classes returns the scenario's classes, only those named in keep if any.
func (s *Scenario) classes(keep []string) []loadgen.Class {
	var out []loadgen.Class
	for _, c := range s.Class {
		if len(keep) == 0 || contains(keep, c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// variantKeys returns the scenario's [daemon] keys with over's keys on
// top: the configuration of one variant of a compare scenario.
func (s *Scenario) variantKeys(over map[string]any) map[string]any {
	out := make(map[string]any, len(s.Daemon)+len(over))
	for k, v := range s.Daemon {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
