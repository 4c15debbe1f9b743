package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// Layout is what an Env runs: its beanstalkd servers and the daemons that
// share them. More load is meant to take more of both.
type Layout struct {
	Servers int    // beanstalkd instances; 0 is 1
	Daemons int    // medispatcher processes, each reserving from every server; 0 is 1
	Binlog  string // beanstalkd durability: off, on, fsync
	Source  string // subscriptions: SourceRedis, SourceMySQL, or else the file the run writes
}

// Env is one scenario run's servers and daemons.
type Env struct {
	Dir        string
	Beanstalkd []*Proc
	Redis      *Proc
	MariaDB    *Proc                  // source mysql only
	Database   *config.DatabaseConfig // MariaDB's database of the 2.x tables; source mysql only
	Daemons    []*Daemon              // the first is the one profiled and shown
	SubsFile   string
	MainTube   string
	// Sink collects the daemons' traces when the scenario's OtelEndpoint
	// is "sink" (tracecmp.go); SinkStats are its counts once stopped.
	Sink      *OTLPSink
	SinkStats *OTLPSinkStats
}

// StartEnv starts l's beanstalkd servers, one redis-server, a MariaDB
// holding the 2.x tables when l's source is mysql, and l's daemons
// (binary daemonBin), all configured for those servers; extra holds the
// scenario's daemon keys.
func StartEnv(ctx context.Context, dir, daemonBin string, l Layout, extra map[string]any) (*Env, error) {
	// The daemon resolves relative paths against its config's directory.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("scenario dir: %w", err)
	}
	e := &Env{Dir: dir, MainTube: "event_center_messages", SubsFile: filepath.Join(dir, "subscriptions.toml")}
	ok := false
	defer func() {
		if !ok {
			e.Stop()
		}
	}()
	if err := e.startServers(max(l.Servers, 1), l.Binlog); err != nil {
		return nil, err
	}
	if l.Source == SourceMySQL {
		if err := e.startMariaDB(ctx); err != nil {
			return nil, err
		}
	}
	if extra, e.Sink, err = withSink(extra); err != nil {
		return nil, err
	}
	// The daemons start with no subscriptions; each run writes its own.
	if err := subs.WriteFile(e.SubsFile, nil); err != nil {
		return nil, err
	}
	for n := 1; n <= max(l.Daemons, 1); n++ {
		if err := e.startDaemon(ctx, daemonBin, n, l.Source, extra); err != nil {
			return nil, err
		}
	}
	ok = true
	return e, nil
}

// startServers starts n beanstalkd, each with binlog (off, on, fsync) in
// a directory of its own, and one redis-server in e.Dir.
func (e *Env) startServers(n int, binlog string) error {
	for range n {
		args, err := binlogArgs(binlog, e.Dir)
		if err != nil {
			return err
		}
		p, err := StartServer("beanstalkd", e.Dir, args...)
		if err != nil {
			return err
		}
		e.Beanstalkd = append(e.Beanstalkd, p)
	}
	var err error
	e.Redis, err = StartServer("redis-server", e.Dir)
	return err
}

// startDaemon starts daemon n (from 1) and waits until it is ready; it is
// in e.Daemons as soon as it has addresses, so that Stop stops it.
func (e *Env) startDaemon(ctx context.Context, daemonBin string, n int, source string, extra map[string]any) error {
	d, err := newDaemon(e.Dir, n)
	if err != nil {
		return err
	}
	if err := e.writeDaemonConfig(d, source, extra); err != nil {
		return err
	}
	if d.Proc, err = startProc(d.name(), d.Log, daemonBin, "-c", d.Config); err != nil {
		return err
	}
	e.Daemons = append(e.Daemons, d)
	return d.wait(ctx)
}

// Servers are the beanstalkd addresses.
func (e *Env) Servers() []string {
	var s []string
	for _, p := range e.Beanstalkd {
		s = append(s, p.Addr)
	}
	return s
}

// BeanstalkdCPU is the CPU seconds of e's beanstalkd servers so far (a
// server whose time cannot be read counts nothing).
func (e *Env) BeanstalkdCPU() float64 { return sumCPU(e.Beanstalkd) }

// DatabaseCPU is the CPU seconds of e's MariaDB so far; 0 without one
// (or when its time cannot be read).
func (e *Env) DatabaseCPU() float64 {
	if e.MariaDB == nil {
		return 0
	}
	return sumCPU([]*Proc{e.MariaDB})
}

// DaemonCPU is the CPU seconds of all e's daemons so far, summed: the
// fleet's cost (a daemon whose time cannot be read counts nothing).
func (e *Env) DaemonCPU() float64 {
	procs := make([]*Proc, len(e.Daemons))
	for i, d := range e.Daemons {
		procs[i] = d.Proc
	}
	return sumCPU(procs)
}

func sumCPU(procs []*Proc) float64 {
	sum := 0.0
	for _, p := range procs {
		if s, err := p.CPUSeconds(); err == nil {
			sum += s
		}
	}
	return sum
}

// DaemonPeakRSSMB is the largest peak resident set of e's daemons, in
// MiB: what one process needs; 0 when none can be read.
func (e *Env) DaemonPeakRSSMB() float64 {
	peak := 0.0
	for _, d := range e.Daemons {
		if rss, err := d.Proc.PeakRSSMB(); err == nil {
			peak = max(peak, rss)
		}
	}
	return peak
}

// Stop stops the daemons first, all at once (so that they release their
// jobs), then the servers.
func (e *Env) Stop() {
	var wg sync.WaitGroup
	for _, d := range e.Daemons {
		wg.Go(d.Proc.Stop)
	}
	wg.Wait()
	e.stopSink()
	for _, p := range e.Beanstalkd {
		p.Stop()
	}
	if e.Redis != nil {
		e.Redis.Stop()
	}
	if e.MariaDB != nil {
		e.MariaDB.Stop()
	}
}
