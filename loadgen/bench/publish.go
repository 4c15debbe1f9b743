package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"medispatcher/loadgen"
	"medispatcher/loadgen/cptransport"
	"medispatcher/loadgen/pubload"
)

// A publish scenario measures the daemon's HTTP publish API against the
// pool's raw put rate, in the same bench run and with the same jobs:
//
//  1. raw: the main-tube jobs put straight into the main tube through
//     connpool, Concurrency puts at once;
//  2. single: each job published with its own POST /api/v1/messages,
//     Concurrency requests at once;
//  3. batch: jobs published Batch to a POST /api/v1/messages/batch,
//     Concurrency requests at once;
//  4. paced: single publishes at half the batch rate, on an open-loop
//     schedule, for the latency of a request from its scheduled time.
//
// The first three are offered Rate, beyond what any client reaches, so
// each client runs flat out: its rate is the messages it got accepted
// per second of the steady phase. Every run is a loadgen run with its own
// servers and daemon, and every message accepted must reach the farm
// (the ledger) or the run is void and its figure not quoted.

// Defaults of a publish scenario.
const (
	defaultPublishConcurrency = 16
	defaultPublishBatch       = 100
	// publishGoal is batch ÷ raw aimed at, reported, never enforced.
	publishGoal = 0.5
	// batchLinger is how long a partial batch waits for more messages.
	batchLinger = 2 * time.Millisecond
	// flatOut is the producer lateness bound of the flat-out runs: they
	// fall behind their schedule on purpose.
	flatOut = time.Hour
	// flatOutGrace bounds a flat-out run past its probe, warm-up and
	// steady phase: a client so slow that sending the rest of its
	// schedule would take longer stops sending (those messages count as
	// not sent), so that one broken API cannot hold up the whole bench.
	flatOutGrace = 2 * time.Minute
	// boundShare: a flat-out client that kept up with this share of the
	// offered rate was held back by the schedule, not by the server.
	boundShare = 0.9
)

// PublishMeasure is one of a publish scenario's flat-out runs.
type PublishMeasure struct {
	Label string `json:"label"`
	// Rate is the messages accepted per second of the steady phase; 0
	// when the run is not valid.
	Rate      float64 `json:"msgs_per_s"`
	Requests  float64 `json:"requests_per_s"`
	Fallbacks int64   `json:"recover_list_answers"`
	Errors    int64   `json:"errors"`
	// GaveUp is the messages a flat-out run did not send because it ran
	// past flatOutGrace.
	GaveUp int64 `json:"not_sent_past_time"`
	// Bounded: the client kept up with the offered rate, so Rate is a
	// lower bound (raise the scenario's rate).
	Bounded bool `json:"schedule_bound"`
}

// PublishFigures are a publish scenario's figures.
type PublishFigures struct {
	Concurrency int            `json:"concurrency"`
	Batch       int            `json:"batch_size"`
	Raw         PublishMeasure `json:"raw_put"`
	Single      PublishMeasure `json:"single_publish"`
	Batched     PublishMeasure `json:"batch_publish"`
	// BatchRatio and SingleRatio are ÷ Raw.Rate; 0 without both figures.
	BatchRatio  float64 `json:"batch_over_raw"`
	SingleRatio float64 `json:"single_over_raw"`
	Goal        float64 `json:"goal"`
	// PacedRate is the paced run's offered rate and Latency its
	// requests' latency from their scheduled time (nil: no valid run).
	PacedRate float64          `json:"paced_per_s"`
	Latency   *loadgen.Latency `json:"request_latency,omitempty"`
	Paced     PublishMeasure   `json:"paced"`
}

// Met reports whether batch publishing reaches the goal share of raw puts.
func (p *PublishFigures) Met() bool { return p.BatchRatio > 0 && p.BatchRatio >= p.Goal }

// runClient is the producer side of a publish scenario's run: its client
// and how many puts it has in flight; a nil runClient is the runner's
// ordinary producer.
type runClient struct {
	label      string
	workers    int
	perRequest int           // messages a request carries
	maxLag     time.Duration // 0: the run's default
	open       func(ctx context.Context, env *Env) (loadgen.Putter, error)
	stats      *pubload.Stats    // the publish putter's answers, once open
	rec        *pubload.Recorder // request latencies; nil: none
	limit      time.Duration     // flat out: how long the client may send after it opened
	gaveUp     atomic.Int64      // flat out: puts refused past limit
}

// configure sets the run's concurrency and lateness bound, and narrows
// the recorder to the steady phase.
func (cl *runClient) configure(cfg *loadgen.Config) {
	if cl == nil {
		return
	}
	cfg.Workers = cl.workers
	if cl.maxLag > 0 {
		cfg.MaxLag = cl.maxLag
	}
	if cl.maxLag == flatOut {
		cl.limit = max(cfg.ProbeTimeout, loadgen.Defaults().ProbeTimeout) + cfg.Warmup + cfg.Duration + flatOutGrace
	}
	if cl.rec != nil {
		prev, steady, rec := cfg.OnSteady, cfg.Duration, cl.rec
		rec.Hold()
		cfg.OnSteady = func() {
			now := time.Now()
			rec.SetWindow(now, now.Add(steady))
			if prev != nil {
				prev()
			}
		}
	}
}

// putter opens the run's client: cl's, or the runner's ordinary one.
func (cl *runClient) putter(ctx context.Context, o Options, env *Env) (loadgen.Putter, error) {
	if cl == nil {
		return newPutter(ctx, o, env.Servers())
	}
	p, err := cl.open(ctx, env)
	if err != nil || cl.limit <= 0 {
		return p, err
	}
	return &limitedPutter{Putter: p, until: time.Now().Add(cl.limit), gaveUp: &cl.gaveUp}, nil
}

// errPastTime: a flat-out run's put refused past its time limit.
var errPastTime = errors.New("flat-out run past its time: not sent")

// limitedPutter refuses puts after until, at once.
type limitedPutter struct {
	loadgen.Putter
	until  time.Time
	gaveUp *atomic.Int64
}

func (p *limitedPutter) Put(ctx context.Context, server int, tube string, body []byte) error {
	if time.Now().After(p.until) {
		p.gaveUp.Add(1)
		return errPastTime
	}
	return p.Putter.Put(ctx, server, tube, body)
}

// publish runs a publish scenario: raw, single and batch flat out, then
// the paced single run, which is the quoted one.
func (sr *scenarioRun) publish() {
	s, res := sr.s, sr.res
	pf := &PublishFigures{Concurrency: s.Concurrency, Batch: s.Batch, Goal: publishGoal}
	res.Publish = pf
	defer func() { sr.client = nil }()

	pf.Raw = sr.flatOut(sr.rawClient())
	pf.Single = sr.flatOut(sr.singleClient("single publish", s.Concurrency, nil))
	pf.Batched = sr.flatOut(sr.batchClient())
	pf.BatchRatio = ratio(pf.Batched.Rate, pf.Raw.Rate)
	pf.SingleRatio = ratio(pf.Single.Rate, pf.Raw.Rate)
	if pf.Batched.Rate <= 0 || sr.ctx.Err() != nil {
		res.Notes = append(res.Notes, "no valid batch publish rate: no paced run")
		return
	}
	pf.PacedRate = math.Round(pf.Batched.Rate / 2)
	if pf.Single.Rate > 0 && pf.PacedRate > pf.Single.Rate/2 {
		n := fmt.Sprintf("half the batch rate (%.0f/s) is beyond half of what single publishes reach (%.0f/s): paced at %.0f/s",
			pf.PacedRate, pf.Single.Rate, math.Round(pf.Single.Rate/2))
		res.Notes = append(res.Notes, n)
		logf(sr.o, "bench: %s: note: %s", s.Name, n)
		pf.PacedRate = math.Round(pf.Single.Rate / 2)
	}
	rec := pubload.NewRecorder()
	cl := sr.singleClient("paced single publish", loadgen.Defaults().Workers, rec)
	cl.maxLag = 0 // paced: a producer behind its schedule voids the run
	sr.client = cl
	res.Main = sr.run(cl.label, pf.PacedRate, s.classes(nil), s.Daemon, "")
	pf.Paced = measure(cl, res.Main)
	if valid(res.Main) {
		l := rec.Latency()
		pf.Latency = &l
	}
	notes := pf.notes()
	res.Notes = append(res.Notes, notes...)
	for _, n := range notes {
		logf(sr.o, "bench: %s: note: %s", s.Name, n)
	}
}

// flatOut runs cl at the scenario's rate, beyond what it reaches, and
// returns its figure.
func (sr *scenarioRun) flatOut(cl *runClient) PublishMeasure {
	if sr.ctx.Err() != nil {
		return PublishMeasure{Label: cl.label}
	}
	sr.client = cl
	rr := sr.run(cl.label, sr.s.Rate, sr.s.classes(nil), sr.s.Daemon, "")
	m := measure(cl, rr)
	if m.Rate > 0 && m.Rate >= boundShare*sr.s.Rate {
		m.Bounded = true
		sr.res.Notes = append(sr.res.Notes, fmt.Sprintf("%s kept up with the offered %.0f/s: its rate is a lower bound; raise rate", cl.label, sr.s.Rate))
	}
	if m.Errors > 0 {
		sr.res.Failures = append(sr.res.Failures, fmt.Sprintf("%s: %d messages refused", cl.label, m.Errors))
	}
	if m.GaveUp > 0 {
		sr.res.Failures = append(sr.res.Failures, fmt.Sprintf("%s: %d messages not sent: the client ran %v past its steady phase", cl.label, m.GaveUp, flatOutGrace))
	}
	return m
}

// measure is rr's figure: its steady-phase rate of accepted messages
// when the run is valid, and its client's answers.
func measure(cl *runClient, rr *RunResult) PublishMeasure {
	m := PublishMeasure{Label: cl.label}
	m.GaveUp = cl.gaveUp.Load()
	if rr != nil && rr.Report != nil {
		m.Errors = rr.Report.PutErrors - m.GaveUp
	}
	if cl.stats != nil {
		_, m.Fallbacks, _, _ = cl.stats.Counts()
	}
	if valid(rr) {
		m.Rate = rr.Report.SentRate
		m.Requests = m.Rate / float64(max(cl.perRequest, 1))
	}
	return m
}

// rawClient puts the jobs through connpool, the daemon's own pool.
func (sr *scenarioRun) rawClient() *runClient {
	return &runClient{label: "raw put", workers: sr.s.Concurrency, maxLag: flatOut,
		open: func(ctx context.Context, env *Env) (loadgen.Putter, error) {
			return cptransport.New(ctx, env.Servers())
		}}
}

// singleClient publishes each job with a request of its own, workers at
// once, recording latencies in rec unless nil.
func (sr *scenarioRun) singleClient(label string, workers int, rec *pubload.Recorder) *runClient {
	cl := &runClient{label: label, workers: workers, maxLag: flatOut, rec: rec}
	cl.open = func(_ context.Context, env *Env) (loadgen.Putter, error) {
		p := pubload.NewSingle(pubload.NewClient(env.Daemons[0].AdminAddr, "", workers), rec)
		cl.stats = &p.Stats
		return p, nil
	}
	return cl
}

// batchClient publishes Batch jobs a request, Concurrency requests at
// once: as many puts in flight as fill them.
func (sr *scenarioRun) batchClient() *runClient {
	s := sr.s
	cl := &runClient{label: "batch publish", workers: s.Concurrency * s.Batch, perRequest: s.Batch, maxLag: flatOut}
	cl.open = func(_ context.Context, env *Env) (loadgen.Putter, error) {
		p := pubload.NewBatch(pubload.NewClient(env.Daemons[0].AdminAddr, "", s.Concurrency), s.Batch, s.Concurrency, batchLinger)
		cl.stats = &p.Stats
		return p, nil
	}
	return cl
}

func ratio(v, of float64) float64 {
	if v <= 0 || of <= 0 {
		return 0
	}
	return v / of
}

// checkPublishKeys defaults and checks the keys of a publish scenario,
// and refuses them on any other kind.
func (s *Scenario) checkPublishKeys() error {
	if s.Kind != KindPublish {
		if s.Concurrency != 0 || s.Batch != 0 {
			return fmt.Errorf("concurrency and batch are for kind publish only")
		}
		return nil
	}
	if s.Concurrency < 0 || s.Batch < 0 {
		return fmt.Errorf("concurrency and batch must not be negative")
	}
	if s.Concurrency == 0 {
		s.Concurrency = defaultPublishConcurrency
	}
	if s.Batch == 0 {
		s.Batch = defaultPublishBatch
	}
	// The figures are of one daemon's API, measured with the load's own
	// client: a profile taken with the runner's ordinary producer, or
	// requests to one daemon of several, would measure something else.
	if s.Pprof || s.Trace {
		return fmt.Errorf("publish: pprof and trace are not supported")
	}
	if s.Daemons > 1 {
		return fmt.Errorf("publish: one daemon only (daemons = %d)", s.Daemons)
	}
	return nil
}
