package admin

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/observe/stats"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/buildinfo"
)

// done is a context that has ended: asking Redis with it does not wait.
var done = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (a *API) info(_ *fasthttp.RequestCtx, _ int64) (any, error) {
	c := a.d.Config
	in := &adminapi.Info{
		Version: buildinfo.Version, BuildTime: buildinfo.BuildTime, GitHash: buildinfo.GitHash,
		Started: a.d.Started, UptimeS: time.Since(a.d.Started).Seconds(), Config: c.Path,
		MainTube: c.NameOfMainQueue, ChannelPrefix: c.PrefixOfChannelQueue, Source: c.SubscriptionSource,
		Subscriptions: a.d.Engine.Subscriptions().Len(), Paused: a.d.Engine.Paused(),
		Redis:  adminapi.RedisInfo{Addr: c.Redis.Addr, Connected: a.d.Redis(done) != nil},
		LogDir: c.LogDir, ReceptionEnv: c.ReceptionEnv, RunAtBench: c.RunAtBench,
		Endpoints: adminapi.Endpoints{Admin: c.ListenAddr, Statistics: c.StatisticApiAddr, Metrics: c.PrometheusApiAddr, Debug: c.DebugAddr},
	}
	for i, addr := range a.d.Pool.Servers() {
		in.Servers = append(in.Servers, adminapi.ServerInfo{Addr: addr, Healthy: a.d.Pool.Healthy(i)})
	}
	return in, nil
}

func (a *API) stats(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	a.d.Stats.Handler()(ctx)
	return nil, errHandled
}

// errHandled tells Handler the route wrote its own answer.
var errHandled = &apiError{Problem: adminapi.Problem{Code: "handled"}}

func (a *API) overview(_ *fasthttp.RequestCtx, _ int64) (any, error) {
	now := time.Now()
	snap := a.d.Stats.Snapshot()
	byID := make(map[int64]*stats.SubStats, len(snap.Subscriptions))
	for i := range snap.Subscriptions {
		byID[snap.Subscriptions[i].ID] = &snap.Subscriptions[i]
	}
	et := a.d.Engine.Totals()
	o := &adminapi.Overview{
		Version: buildinfo.Version, Started: a.d.Started, UptimeS: now.Sub(a.d.Started).Seconds(), NowMS: now.UnixMilli(),
		Totals: adminapi.Totals{Pushes: snap.Total.Pushes, Successes: snap.Total.Pushes - snap.Total.Failures,
			Failures: snap.Total.Failures, Retries: snap.Total.Retries, GivenUp: et.GivenUp,
			Redistributed: et.Redistributed, DecodeErrors: et.DecodeErrors},
		Subscriptions: []adminapi.SubOverview{},
		Alerts:        wireAlerts(a.d.Alerts.Recent(20)),
		Paused:        a.d.Engine.Paused(),
		CutThrough:    a.d.Engine.CutThrough(),
		Stages:        wireStages(stats.Latencies(a.d.Engine.Stages())),
	}
	recent, span := stats.RecentLatencies(a.d.Engine.Stages(), now)
	o.StagesRecent, o.StagesRecentS = wireStages(recent), span
	if smp, ok := a.d.Backlog.Get(a.d.Config.NameOfMainQueue); ok {
		o.Main = adminapi.Counts(smp.Sum)
		o.BacklogSampledMS = smp.Time.UnixMilli()
	}
	for _, s := range a.d.Engine.Subscriptions().All() {
		v := a.view(s)
		so := adminapi.SubOverview{ID: s.ID, Topic: s.Topic, SubscriberID: s.SubscriberID, URL: v.URL,
			Concurrency: v.Effective.Concurrency, RetryConcurrency: v.Effective.RetryConcurrency}
		if st := byID[s.ID]; st != nil {
			w := st.Windows
			so.Pushes10s, so.Failures10s, so.Rate10s = w.S10.Pushes, w.S10.Failures, w.S10.Rate()
			so.Pushes1m, so.Failures1m, so.FailureRatio1m = w.M1.Pushes, w.M1.Failures, w.M1.FailureRatio
			so.PushesTotal, so.FailuresTotal = st.Total.Pushes, st.Total.Failures
		}
		if h, ok := a.d.Engine.Handoffs(s.ID); ok {
			so.Direct, so.Spilled = h.Direct, h.Spilled
			if n := h.Direct + h.Spilled; n > 0 {
				so.DirectShare = float64(h.Direct) / float64(n)
			}
		}
		if v.Channel != nil {
			so.Ready, so.Delayed, so.Reserved = v.Channel.Ready, v.Channel.Delayed, v.Channel.Reserved
		}
		if v.Retry != nil {
			so.RetryReady, so.RetryDelayed = v.Retry.Ready, v.Retry.Delayed
		}
		so.Breaker = v.Breaker
		if so.Breaker == "closed" && v.Effective.CircuitBreaker == "off" {
			so.Breaker = "off"
		}
		if v.Window != nil {
			so.Window, so.RetryWindow = v.Window.Channel, v.Window.Retry
		}
		so.AdaptiveWindow = v.Effective.AdaptiveWindow
		so.Filtered, so.FilterErrors = v.Filtered, v.FilterErrors
		o.Subscriptions = append(o.Subscriptions, so)
	}
	return o, nil
}
