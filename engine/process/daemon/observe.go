package daemon

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/stage"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/backlog"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/process/recoverlist"
	"medispatcher/internal/config"
)

// pushConfig is the push client's configuration from the daemon's:
// FailureAnswerMaxBytes (0 keeps none of the answer) and PushDenyCIDRs
// (validated by config; nil = off).
func pushConfig(cfg *config.Config) push.Config {
	return push.Config{MaxAnswer: cmp.Or(cfg.FailureAnswerMaxBytes, -1), DenyCIDRs: cfg.PushDenyCIDRs}
}

// observer feeds every push to the statistics and the alert monitor.
type observer struct {
	stats  *stats.Stats
	alerts *alert.Monitor
}

func (o *observer) Sub(s *subs.Subscription) dispatch.SubObserver {
	return &subObserver{o: o, id: s.ID, c: o.stats.Sub(s.ID, s.Topic)}
}

type subObserver struct {
	o  *observer
	id int64
	c  *stats.Counter
}

func (so *subObserver) Pushed(s *subs.Subscription, ok, retry bool, retriesDone int) {
	so.c.Push(ok, retry)
	if !ok {
		so.o.alerts.PushFailed(s, retriesDone)
	}
}

// Stopped releases what the subscription kept: its statistics (its counts
// stay in the totals) and its alert state.
func (so *subObserver) Stopped() {
	so.o.stats.Remove(so.id)
	so.o.alerts.Forget(so.id)
}

// handoffs is the statistics' stats.HandoffsFunc: the engine's count of a
// subscription's direct and spilled copies. The statistics are made before
// the engine, and are read only once the daemon serves them.
func (d *Daemon) handoffs(id int64) (direct, spilled uint64, ok bool) {
	if d.engine == nil {
		return 0, 0, false
	}
	h, ok := d.engine.Handoffs(id)
	return h.Direct, h.Spilled, ok
}

// filterCounts is the statistics' per-subscription content filter counts
// (see stats.WithFilters).
func (d *Daemon) filterCounts(id int64) (filtered, errs uint64, ok bool) {
	if d.engine == nil {
		return 0, 0, false
	}
	c, ok := d.engine.Filters(id)
	return c.Filtered, c.Errors, ok
}

// stageTimings is the statistics' stats.StagesFunc: the engine's stage
// timings, nil until the engine is made.
func (d *Daemon) stageTimings() *stage.Timings {
	if d.engine == nil {
		return nil
	}
	return d.engine.Stages()
}

// backlogTubes lists what the sampler measures: the main tube (per server)
// and every subscription's channel and retry tubes.
// With gauges false (Observability = false) the tubes are sampled for the
// engine's LazyRetryWatch only and export nothing.
func backlogTubes(cfg *config.Config, eng *dispatch.Engine, gauges bool) func() []backlog.Tube {
	label := func(l string) string {
		if gauges {
			return l
		}
		return ""
	}
	return func() []backlog.Tube {
		set := eng.Subscriptions()
		out := make([]backlog.Tube, 0, 1+2*set.Len())
		out = append(out, backlog.Tube{Name: cfg.NameOfMainQueue,
			Labels: label(`tube=` + strconv.Quote(cfg.NameOfMainQueue) + `,lane="main"`), PerServer: true})
		for _, s := range set.All() {
			l := fmt.Sprintf(`sub="%d",topic=%s`, s.ID, strconv.Quote(s.Topic))
			out = append(out,
				backlog.Tube{Name: s.ChannelTube(cfg.PrefixOfChannelQueue), Labels: label(l + `,lane="channel"`)},
				backlog.Tube{Name: s.RetryTube(cfg.PrefixOfChannelQueue), Labels: label(l + `,lane="retry"`)})
		}
		return out
	}
}

// afterSweep tells the engine which retry tubes hold jobs
// (LazyRetryWatch) and checks the backlog alert conditions (alerts nil:
// none) after each sweep. It also ticks the recent window of the stage
// timings: the sampler always runs, every few seconds, so the window
// moves on even while no one reads it.
func afterSweep(cfg *config.Config, eng *dispatch.Engine, smp *backlog.Sampler, alerts *alert.Monitor) func() {
	return func() {
		eng.Stages().Tick(time.Now())
		total := 0
		for _, s := range eng.Subscriptions().All() {
			ready := 0
			if c, ok := smp.Get(s.ChannelTube(cfg.PrefixOfChannelQueue)); ok {
				ready += int(c.Sum.Ready)
				eng.ChannelSampled(s.ID, c.Sum.Ready+c.Sum.Reserved, sampledJobs(c), c.Asked)
			}
			if c, ok := smp.Get(s.RetryTube(cfg.PrefixOfChannelQueue)); ok {
				ready += int(c.Sum.Ready)
				eng.RetrySampled(s.ID, sampledJobs(c), c.Asked)
			}
			total += ready
			if alerts != nil {
				alerts.ChannelBacklog(s, ready)
			}
		}
		if alerts == nil {
			return
		}
		main := 0
		if c, ok := smp.Get(cfg.NameOfMainQueue); ok {
			main = int(c.Sum.Ready)
		}
		alerts.GlobalBacklog(total, main)
	}
}

// sampledJobs is what a sample says a tube may hold for the engine's lazy
// watching: its ready, delayed and reserved jobs, at least 1 when a server
// did not answer.
func sampledJobs(c backlog.Sample) int64 {
	if c.Missing > 0 {
		return 1
	}
	return c.Sum.Ready + c.Sum.Delayed + c.Sum.Reserved
}

// recoverGauge keeps the number of entries waiting in the recover lists,
// refreshed every interval while Redis is connected.
type recoverGauge struct {
	entries, lists atomic.Int64
}

func (g *recoverGauge) run(ctx context.Context, c rueidis.Client, prefix string, every time.Duration, log *slog.Logger) {
	metrics.GetOrCreateGauge(`medispatcher_recover_list_entries`, func() float64 { return float64(g.entries.Load()) })
	metrics.GetOrCreateGauge(`medispatcher_recover_lists`, func() float64 { return float64(g.lists.Load()) })
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, every)
		st, err := recoverlist.Status(qctx, c, prefix)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				log.Debug("recover-list status", "err", err)
			}
		} else {
			var n int64
			for _, l := range st {
				n += l.Length
			}
			g.entries.Store(n)
			g.lists.Store(int64(len(st)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writePoolMetrics writes the connpool link gauges at scrape time, from one
// Stats call.
func writePoolMetrics(w io.Writer, pool *connpool.Pool) {
	type key struct {
		server int
		kind   string
	}
	type agg struct {
		links, connected, inFlight int
		reconnects, writes         uint64
		rttSum                     time.Duration
		rttN                       int
	}
	aggs := map[key]*agg{}
	var order []key
	for _, ls := range pool.Stats() {
		k := key{ls.Server, ls.Kind}
		a := aggs[k]
		if a == nil {
			a = &agg{}
			aggs[k] = a
			order = append(order, k)
		}
		a.links++
		if ls.Connected {
			a.connected++
		}
		a.inFlight += ls.InFlight
		a.reconnects += ls.Reconnects
		a.writes += ls.Writes
		if ls.RTT > 0 {
			a.rttSum += ls.RTT
			a.rttN++
		}
	}
	servers := pool.Servers()
	for _, k := range order {
		a := aggs[k]
		l := fmt.Sprintf(`{server=%s,kind=%s}`, strconv.Quote(servers[k.server]), strconv.Quote(k.kind))
		metrics.WriteGaugeUint64(w, `medispatcher_beanstalkd_links`+l, uint64(a.links))
		metrics.WriteGaugeUint64(w, `medispatcher_beanstalkd_links_connected`+l, uint64(a.connected))
		metrics.WriteGaugeUint64(w, `medispatcher_beanstalkd_requests_in_flight`+l, uint64(a.inFlight))
		metrics.WriteCounterUint64(w, `medispatcher_beanstalkd_reconnects_total`+l, a.reconnects)
		metrics.WriteCounterUint64(w, `medispatcher_beanstalkd_writes_total`+l, a.writes)
		rtt := 0.0
		if a.rttN > 0 {
			rtt = (a.rttSum / time.Duration(a.rttN)).Seconds()
		}
		metrics.WriteGaugeFloat64(w, `medispatcher_beanstalkd_rtt_seconds`+l, rtt)
	}
}
