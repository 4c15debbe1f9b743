package paneldb

import (
	"context"
	"database/sql"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// DefaultPollInterval is how often the tables are probed for a change
// when no interval is given: a change made in the panel applies within
// about a second (2.x re-read every table every 2 s; a probe is one small
// query).
const DefaultPollInterval = time.Second

const (
	// queryTimeout bounds one probe and one full read, so that a database
	// that hangs cannot stall the source past its retries.
	queryTimeout = 5 * time.Second
	// Backoff between attempts while the database does not answer.
	minBackoff = 200 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// The cost of watching the tables: one probe per PollInterval, one full
// read (both queries) per change seen, and the attempts that failed.
var (
	queriesProbe = metrics.GetOrCreateCounter(`medispatcher_paneldb_queries_total{kind="probe"}`)
	queriesRead  = metrics.GetOrCreateCounter(`medispatcher_paneldb_queries_total{kind="read"}`)
	queryErrors  = metrics.GetOrCreateCounter(`medispatcher_paneldb_errors_total`)
)

// Options are the source's optional settings, given by SetOptions before
// Run.
type Options struct {
	subs.Options
	// OnDown, when set, is called once per outage: the first probe or read
	// that fails after a success (or at start). held says whether a set
	// was applied before, and so stays in use.
	OnDown func(err error, held bool)
	// OnUp, when set, is called when the database answers again after an
	// outage, with the outage's length.
	OnUp func(down time.Duration)
}

// Source reads the subscriptions from the 2.x tables (subs.Source and
// subs.Problemer). Every PollInterval it runs one cheap probe of the
// tables (probeQuery) and reads them in full only when the probe's answer
// changed.
//
// Until the first full read succeeds nothing is applied: a database that
// cannot be reached is not one without subscriptions. Afterwards a probe
// or read that fails keeps the last set, logs one ERROR per outage and is
// retried with backoff. A full read that finds no active subscription is
// an answer, and is applied.
type Source struct {
	db      *sql.DB
	where   string
	poll    time.Duration
	timeout time.Duration
	lim     subs.Limits
	log     *slog.Logger
	opts    Options
	good    *subs.LastGood
	problem atomic.Pointer[string]
	// warned holds the unknown parameter names already logged.
	warned map[string]bool
	// probes, reads and failures count this source's queries, for tests
	// and benchmarks (the metrics add up every source of the process).
	probes, reads, failures atomic.Uint64
}

// NewSource returns a source reading db every poll (DefaultPollInterval
// when 0); where names the database in logs and in Problem
// ("host:port/db"). Nothing is read before Run.
func NewSource(db *sql.DB, where string, poll time.Duration, lim subs.Limits, log *slog.Logger) *Source {
	if log == nil {
		log = slog.Default()
	}
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	log = log.With("database", where)
	return &Source{db: db, where: where, poll: poll, timeout: queryTimeout, lim: lim, log: log,
		good: subs.NewLastGood(log, subs.Options{}), warned: make(map[string]bool)}
}

// SetOptions sets the optional settings; call it before Run.
func (s *Source) SetOptions(o Options) {
	s.opts = o
	s.good = subs.NewLastGood(s.log, o.Options)
}

// Problem implements subs.Problemer: why the last attempt failed or found
// no subscription, or "".
func (s *Source) Problem() string {
	if p := s.problem.Load(); p != nil {
		return *p
	}
	return ""
}

func (s *Source) setProblem(p string) { s.problem.Store(&p) }

// Counts returns how many probes and full reads this source has run, and
// how many of them failed.
func (s *Source) Counts() (probes, reads, failures uint64) {
	return s.probes.Load(), s.reads.Load(), s.failures.Load()
}

func (s *Source) count(own *atomic.Uint64, m *metrics.Counter) {
	own.Add(1)
	m.Inc()
}

// runState is what Run carries from one poll to the next.
type runState struct {
	cur       *subs.Set // the set applied last; nil before the first
	sum       probeSum  // the probe's answer before the last full read
	down      bool      // the last attempt failed
	downSince time.Time
	backoff   time.Duration
}

// Run implements subs.Source. It returns nil when ctx is done.
func (s *Source) Run(ctx context.Context, apply func(*subs.Set)) error {
	st := &runState{backoff: minBackoff}
	timer := time.NewTimer(0) // the first attempt right away
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		err := s.pollOnce(ctx, st, apply)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			timer.Reset(s.failed(st, err))
			continue
		}
		timer.Reset(s.poll)
	}
}

// pollOnce probes the tables and, when they changed since the last full
// read (or none succeeded yet), reads them and applies the new set unless
// it equals the last. A poll that succeeds ends an outage before the set
// is applied.
func (s *Source) pollOnce(ctx context.Context, st *runState, apply func(*subs.Set)) error {
	sum, err := s.probe(ctx)
	if err != nil {
		return err
	}
	if st.cur != nil && sum == st.sum {
		s.answered(st)
		return nil
	}
	snap, err := s.read(ctx)
	if err != nil {
		return err
	}
	// The read came after the probe: it saw at least what the probe did,
	// so a change between the two is read again at the next poll at worst.
	st.sum = sum
	next, held, bad := s.merge(snap, st.cur)
	prev := st.cur
	if prev != nil && next.Equal(prev) {
		s.answered(st)
		return nil
	}
	if next.Len() == 0 && prev.Len() > 0 {
		s.log.Warn("the database holds no active subscription any more; applying the empty set", "before", prev.Len())
	}
	s.log.Info("subscriptions loaded", "count", next.Len(), "held_at_last_good", subs.IDList(held), "left_out", bad-len(held))
	s.good.WarnNoURL(prev, next)
	st.cur = next
	s.answered(st)
	apply(next)
	return nil
}

// merge builds the set of snap; an invalid subscription keeps its version
// in cur, if any (held). bad counts the invalid ones.
func (s *Source) merge(snap *snapshot, cur *subs.Set) (set *subs.Set, held []int64, bad int) {
	valid := make([]*subs.Subscription, 0, len(snap.rows))
	var invalid []subs.Invalid
	for _, r := range snap.rows {
		rows := snap.params[r.id]
		sub, unknown, err := build(r, rows, s.lim)
		s.warnUnknown(unknown, r.id)
		if err != nil {
			invalid = append(invalid, subs.Invalid{ID: r.id, Version: version(r, rows), Err: err})
			continue
		}
		valid = append(valid, sub)
	}
	set, held = s.good.Merge(valid, invalid, cur)
	return set, held, len(invalid)
}

// warnUnknown logs each parameter name the daemon does not know once in
// the process's life, at WARN: a misspelt name sets nothing.
func (s *Source) warnUnknown(names []string, id int64) {
	for _, n := range names {
		if s.warned[n] {
			continue
		}
		s.warned[n] = true
		s.log.Warn("subscription parameter unknown; ignored", "param", n, "sub", id)
	}
}

// failed records a failed attempt: one ERROR and one OnDown per outage,
// the reason in Problem. It returns the wait before the next attempt.
func (s *Source) failed(st *runState, err error) time.Duration {
	s.failures.Add(1)
	queryErrors.Inc()
	s.setProblem("cannot read subscriptions from database " + s.where + ": " + err.Error())
	if !st.down {
		st.down, st.downSince, st.backoff = true, time.Now(), minBackoff
		if st.cur == nil {
			s.log.Error("cannot read subscriptions from the database: nothing is dispatched until it answers; retrying", "err", err)
		} else {
			s.log.Error("cannot read subscriptions from the database; keeping the previous set and retrying",
				"count", st.cur.Len(), "err", err)
		}
		if s.opts.OnDown != nil {
			s.opts.OnDown(err, st.cur != nil)
		}
	} else {
		s.log.Debug("database still not answering", "err", err)
	}
	wait := st.backoff
	st.backoff = min(2*st.backoff, max(maxBackoff, s.poll))
	return wait
}

// answered follows a successful poll: Problem says whether the set
// applied (st.cur) is empty, and an outage, if there was one, ends.
func (s *Source) answered(st *runState) {
	s.setProblem("")
	if st.cur.Len() == 0 {
		s.setProblem("database " + s.where + " holds no active subscription (status 0, with a message class)")
	}
	if !st.down {
		return
	}
	st.down = false
	d := time.Since(st.downSince)
	s.log.Info("database answers again", "down_for", d.Round(time.Millisecond))
	if s.opts.OnUp != nil {
		s.opts.OnUp(d)
	}
}

// Where names d's database in logs and messages: "host:port/db" (never
// the user or the password).
func Where(d config.DatabaseConfig) string { return d.Addr() + "/" + d.DbName }
