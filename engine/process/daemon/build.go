package daemon

import (
	"time"

	"medispatcher/engine/dispatch"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/backlog"
	"medispatcher/engine/paneldb"
	"medispatcher/engine/process/admin"
	"medispatcher/engine/process/publish"
	"medispatcher/internal/config"
)

// engineOptions are the engine's settings from the daemon's configuration.
func engineOptions(cfg *config.Config) dispatch.Options {
	return dispatch.Options{
		MainTube:                cfg.NameOfMainQueue,
		ChannelPrefix:           cfg.PrefixOfChannelQueue,
		RedistWorkers:           cfg.ListenersOfMainQueue * 5,
		DefaultConcurrency:      cfg.SendersPerChannel,
		DefaultRetryConcurrency: cfg.SendersPerRetryChannel,
		Interval:                time.Duration(cfg.IntervalOfSendingForSendRoutine) * time.Millisecond,
		DefaultTimeout:          time.Duration(cfg.DefaultMaxMessageProcessTime) * time.Millisecond,
		MaxTimeout:              time.Duration(cfg.MaxMessageProcessTime) * time.Millisecond,
		RetryCoe:                time.Duration(cfg.CoeOfIntervalForRetrySendingMsg) * time.Second,
		MaxRetries:              cfg.MaxRetryTimesOfSendingMessage,
		MaxRetryAfter:           time.Duration(cfg.MaxRetryAfterSeconds) * time.Second,
		Breaker:                 breakerOptions(cfg),
		AdaptiveWindow:          cfg.AdaptiveWindow == config.WindowOn,
		SentLog:                 cfg.EnableMsgSentLog,
		ReceptionEnv:            cfg.ReceptionEnv,
		RunAtBench:              cfg.RunAtBench,
		ShutdownTimeout:         cfg.ShutdownGrace(),
		TTR:                     cfg.ChannelTTR(),
		NoPushMetrics:           !cfg.Observability,
		AllowEmptySet:           cfg.AllowEmptySubscriptionSet,
		LogUnsubscribed:         cfg.LogUnsubscribed,
		// The backlog sampler tells the engine which retry tubes hold jobs.
		LazyRetryWatch: true,
		CutThrough:     cfg.CutThrough,
	}
}

// breakerOptions are the circuit breakers' settings.
func breakerOptions(cfg *config.Config) dispatch.BreakerOptions {
	return dispatch.BreakerOptions{
		On:                cfg.CircuitBreaker == config.BreakerOn,
		Window:            time.Duration(cfg.BreakerWindowSeconds) * time.Second,
		MinPushes:         cfg.BreakerMinPushes,
		FailureShare:      cfg.BreakerFailureShare,
		ConsecutiveErrors: cfg.BreakerConsecutiveErrors,
		CoolDown:          time.Duration(cfg.BreakerCoolDownSeconds) * time.Second,
		MaxCoolDown:       time.Duration(cfg.BreakerMaxCoolDownSeconds) * time.Second,
	}
}

// newEngine builds the engine on the parts New made before it. With
// Observability, statistics and alerts hear every push.
func (d *Daemon) newEngine() (*dispatch.Engine, error) {
	var obs dispatch.Observer
	if d.cfg.Observability {
		obs = &observer{stats: d.stats, alerts: d.alerts}
	}
	return dispatch.New(engineOptions(d.cfg), dispatch.Deps{
		Pool:     d.pool,
		Push:     push.NewClient(pushConfig(d.cfg)),
		Source:   d.source,
		Failures: d.failures,
		Data:     dataLogs{Writer: d.data, drops: d.drops},
		Log:      d.log,
		Observer: obs,
		Tracer:   d.tracer,
		Alert:    d.alerts.Problem,
		SubAlert: d.alerts.Breaker,
	})
}

// newSampler builds the backlog sampler. It always runs: the engine's
// retry watching depends on it. Without Observability it exports no gauges
// and raises no alerts.
func (d *Daemon) newSampler() *backlog.Sampler {
	s := backlog.New(d.pool, backlog.Options{Rate: d.cfg.BacklogSampleRate,
		Tubes: backlogTubes(d.cfg, d.engine, d.cfg.Observability), Log: d.log})
	var alerts *alert.Monitor
	if d.cfg.Observability {
		alerts = d.alerts
	}
	s.SetOnSweep(afterSweep(d.cfg, d.engine, s, alerts))
	return s
}

// serveAdmin binds the admin API on ListenAddr, unless it is off (no
// ListenAddr) or refused (an ERROR line says why; the daemon goes on
// dispatching).
func (d *Daemon) serveAdmin() error {
	if why := d.cfg.AdminAPIRefused(); why != "" {
		d.log.Error("admin API not served: set AdminToken (or MEDISPATCHER_ADMIN_TOKEN) or a loopback ListenAddr", "why", why)
		return nil
	}
	if d.cfg.ListenAddr == "" {
		return nil
	}
	data := d.data
	var panel admin.PanelWriter
	if d.db != nil {
		// The admin API's writes share the daemon's one database pool.
		panel = paneldb.NewWriter(d.db)
	}
	api := admin.New(admin.Deps{
		Panel:  panel,
		Config: d.cfg, Started: d.started, Engine: d.engine, Pool: d.pool, Stats: d.stats, Alerts: d.alerts,
		Backlog: d.sampler, Redis: d.redis.client, Drop: d.drops.Drop,
		KickFail: func(server, tube string, id uint64, reason string) { _ = data.KickFail(server, tube, id, reason) },
		Log:      d.log,
		Publish:  publish.New(publish.Deps{Config: d.cfg, Pool: d.pool, Redis: d.redis.client, Tracer: d.publishTracer(), Log: d.log}),
	})
	return d.http.admin(d.cfg, api)
}
