package admin

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/backlog"
	"medispatcher/engine/observe/stats"
	"medispatcher/internal/buildinfo"
)

// Info is the answer of GET /info: what runs, since when, with which
// configuration (no secrets).
type Info struct {
	Version       string       `json:"version"`
	BuildTime     string       `json:"build_time"`
	GitHash       string       `json:"git_hash"`
	Started       time.Time    `json:"started"`
	UptimeS       float64      `json:"uptime_s"`
	Config        string       `json:"config"`
	Servers       []ServerInfo `json:"servers"`
	MainTube      string       `json:"main_tube"`
	ChannelPrefix string       `json:"channel_prefix"`
	Source        string       `json:"subscription_source"`
	Subscriptions int          `json:"subscriptions"`
	// Paused says why the main tube is not being dispatched (no
	// subscription loaded: a missing file, an empty Redis hash); "" = it is.
	Paused       string    `json:"main_tube_paused,omitempty"`
	Redis        RedisInfo `json:"redis"`
	LogDir       string    `json:"log_dir"`
	ReceptionEnv string    `json:"reception_env"`
	RunAtBench   bool      `json:"run_at_bench"`
	Endpoints    Endpoints `json:"endpoints"`
}

// ServerInfo is one beanstalkd server.
type ServerInfo struct {
	Addr    string `json:"addr"`
	Healthy bool   `json:"healthy"`
}

// RedisInfo says where Redis is and whether it is connected.
type RedisInfo struct {
	Addr      string `json:"addr"`
	Connected bool   `json:"connected"`
}

// Endpoints are the daemon's listening addresses ("" = off).
type Endpoints struct {
	Admin      string `json:"admin"`
	Statistics string `json:"statistics"`
	Metrics    string `json:"metrics"`
	Debug      string `json:"debug"`
}

// done is a context that has ended: asking Redis with it does not wait.
var done = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (a *API) info(_ *fasthttp.RequestCtx, _ int64) (any, error) {
	c := a.d.Config
	in := &Info{
		Version: buildinfo.Version, BuildTime: buildinfo.BuildTime, GitHash: buildinfo.GitHash,
		Started: a.d.Started, UptimeS: time.Since(a.d.Started).Seconds(), Config: c.Path,
		MainTube: c.NameOfMainQueue, ChannelPrefix: c.PrefixOfChannelQueue, Source: c.SubscriptionSource,
		Subscriptions: a.d.Engine.Subscriptions().Len(), Paused: a.d.Engine.Paused(),
		Redis:  RedisInfo{Addr: c.Redis.Addr, Connected: a.d.Redis(done) != nil},
		LogDir: c.LogDir, ReceptionEnv: c.ReceptionEnv, RunAtBench: c.RunAtBench,
		Endpoints: Endpoints{Admin: c.ListenAddr, Statistics: c.StatisticApiAddr, Metrics: c.PrometheusApiAddr, Debug: c.DebugAddr},
	}
	for i, addr := range a.d.Pool.Servers() {
		in.Servers = append(in.Servers, ServerInfo{Addr: addr, Healthy: a.d.Pool.Healthy(i)})
	}
	return in, nil
}

func (a *API) stats(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	a.d.Stats.Handler()(ctx)
	return nil, errHandled
}

// errHandled tells Handler the route wrote its own answer.
var errHandled = &apiError{Code: "handled"}

// Overview is what the status page shows, in one request.
type Overview struct {
	Version          string         `json:"version"`
	Started          time.Time      `json:"started"`
	UptimeS          float64        `json:"uptime_s"`
	NowMS            int64          `json:"now_ms"`
	Totals           Totals         `json:"totals"`
	Paused           string         `json:"main_tube_paused,omitempty"` // see Info.Paused
	Main             backlog.Counts `json:"main"`
	BacklogSampledMS int64          `json:"backlog_sampled_ms"`
	Subscriptions    []SubOverview  `json:"subscriptions"`
	Alerts           []alert.Alert  `json:"alerts"`
}

// Totals are counts since the daemon started.
type Totals struct {
	Pushes        uint64 `json:"pushes"`
	Successes     uint64 `json:"successes"`
	Failures      uint64 `json:"failures"`
	Retries       uint64 `json:"retries"`
	GivenUp       uint64 `json:"given_up"`
	Redistributed uint64 `json:"redistributed"`
	DecodeErrors  uint64 `json:"decode_errors"`
}

// SubOverview is one subscription's line on the status page.
type SubOverview struct {
	ID               int64   `json:"id"`
	Topic            string  `json:"topic"`
	SubscriberID     int64   `json:"subscriber_id"`
	URL              string  `json:"url"` // userinfo masked
	Concurrency      int     `json:"concurrency"`
	RetryConcurrency int     `json:"retry_concurrency"`
	Pushes10s        uint64  `json:"pushes_10s"`
	Failures10s      uint64  `json:"failures_10s"`
	Rate10s          float64 `json:"rate_10s"`
	Pushes1m         uint64  `json:"pushes_1m"`
	Failures1m       uint64  `json:"failures_1m"`
	FailureRatio1m   float64 `json:"failure_ratio_1m"`
	PushesTotal      uint64  `json:"pushes_total"`
	FailuresTotal    uint64  `json:"failures_total"`
	Ready            int64   `json:"ready"`
	Delayed          int64   `json:"delayed"`
	Reserved         int64   `json:"reserved"`
	RetryReady       int64   `json:"retry_ready"`
	RetryDelayed     int64   `json:"retry_delayed"`
}

func (a *API) overview(_ *fasthttp.RequestCtx, _ int64) (any, error) {
	now := time.Now()
	snap := a.d.Stats.Snapshot()
	byID := make(map[int64]*stats.SubStats, len(snap.Subscriptions))
	for i := range snap.Subscriptions {
		byID[snap.Subscriptions[i].ID] = &snap.Subscriptions[i]
	}
	et := a.d.Engine.Totals()
	o := &Overview{
		Version: buildinfo.Version, Started: a.d.Started, UptimeS: now.Sub(a.d.Started).Seconds(), NowMS: now.UnixMilli(),
		Totals: Totals{Pushes: snap.Total.Pushes, Successes: snap.Total.Pushes - snap.Total.Failures,
			Failures: snap.Total.Failures, Retries: snap.Total.Retries, GivenUp: et.GivenUp,
			Redistributed: et.Redistributed, DecodeErrors: et.DecodeErrors},
		Subscriptions: []SubOverview{},
		Alerts:        a.d.Alerts.Recent(20),
		Paused:        a.d.Engine.Paused(),
	}
	if o.Alerts == nil {
		o.Alerts = []alert.Alert{}
	}
	if smp, ok := a.d.Backlog.Get(a.d.Config.NameOfMainQueue); ok {
		o.Main = smp.Sum
		o.BacklogSampledMS = smp.Time.UnixMilli()
	}
	for _, s := range a.d.Engine.Subscriptions().All() {
		v := a.view(s)
		so := SubOverview{ID: s.ID, Topic: s.Topic, SubscriberID: s.SubscriberID, URL: v.URL,
			Concurrency: v.Effective.Concurrency, RetryConcurrency: v.Effective.RetryConcurrency}
		if st := byID[s.ID]; st != nil {
			w := st.Windows
			so.Pushes10s, so.Failures10s, so.Rate10s = w.S10.Pushes, w.S10.Failures, w.S10.Rate()
			so.Pushes1m, so.Failures1m, so.FailureRatio1m = w.M1.Pushes, w.M1.Failures, w.M1.FailureRatio
			so.PushesTotal, so.FailuresTotal = st.Total.Pushes, st.Total.Failures
		}
		if v.Channel != nil {
			so.Ready, so.Delayed, so.Reserved = v.Channel.Ready, v.Channel.Delayed, v.Channel.Reserved
		}
		if v.Retry != nil {
			so.RetryReady, so.RetryDelayed = v.Retry.Ready, v.Retry.Delayed
		}
		o.Subscriptions = append(o.Subscriptions, so)
	}
	return o, nil
}
