package admin

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/ops/amend"
	"medispatcher/engine/ops/clean"
	"medispatcher/engine/process/recoverlist"
)

func errList(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// cleanSub empties a subscription's channel and retry tubes up to a
// snapshot of their counts (so it ends while messages keep arriving); every
// deleted job goes to the drop log first, so replay can restore it.
func (a *API) cleanSub(ctx *fasthttp.RequestCtx, id int64) (any, error) {
	s, err := a.subOr404(id)
	if err != nil {
		return nil, err
	}
	var req adminapi.CleanRequest
	if len(ctx.PostBody()) > 0 {
		if err := decode(ctx, &req); err != nil {
			return nil, err
		}
	}
	octx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	reps, err := clean.Run(octx, a.d.Pool, clean.Options{Topic: s.Topic, SubID: s.ID,
		ChannelPrefix: a.d.Config.PrefixOfChannelQueue, Delayed: req.Delayed, Buried: req.Buried, DryRun: req.DryRun}, a.d.Drop)
	out := &adminapi.OpResult[adminapi.CleanReport]{Reports: []adminapi.CleanReport{}, Errors: errList(err)}
	total := 0
	for _, r := range reps {
		out.Reports = append(out.Reports, adminapi.CleanReport{Server: r.Server, Tube: r.Tube, State: r.State, Found: r.Found, Deleted: r.Deleted})
		total += r.Deleted
	}
	a.d.Log.Info("admin API: subscription queue cleaned", "sub", id, "deleted", total, "dry_run", req.DryRun, "err", err)
	return out, nil
}

// kick does what the amender does: every buried job of the main, channel
// and retry tubes of every server back to ready.
func (a *API) kick(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	var req adminapi.KickRequest
	if len(ctx.PostBody()) > 0 {
		if err := decode(ctx, &req); err != nil {
			return nil, err
		}
	}
	octx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	reps, err := amend.Run(octx, a.d.Pool, a.d.Config.NameOfMainQueue, a.d.Config.PrefixOfChannelQueue, req.DryRun, a.d.KickFail)
	out := &adminapi.OpResult[adminapi.KickReport]{Reports: []adminapi.KickReport{}, Errors: errList(err)}
	for _, r := range reps {
		kr := adminapi.KickReport{Server: r.Server, Tube: r.Tube, Buried: r.Buried, Kicked: r.Kicked}
		if r.Err != nil {
			kr.Error = r.Err.Error()
		}
		out.Reports = append(out.Reports, kr)
	}
	return out, nil
}

// failureFilter is the query of GET /failures.
type failureFilter struct {
	sub   int64
	topic string
	jobid string
	final string // "" = any; "retrying" matches records not final yet
	since time.Time
	logID map[uint64]bool
	limit int64
}

func (f *failureFilter) keep(r *failures.Record) bool {
	return (f.sub == 0 || r.SubID == f.sub) && (f.topic == "" || r.Topic == f.topic) &&
		(f.jobid == "" || r.JobID == f.jobid) && (f.final == "" || r.Final == f.final || (f.final == "retrying" && r.Final == failures.Retrying)) &&
		(f.since.IsZero() || r.Time.After(f.since)) && (f.logID == nil || f.logID[r.LogID])
}

func parseFailureFilter(ctx *fasthttp.RequestCtx) (*failureFilter, error) {
	q := ctx.QueryArgs()
	f := &failureFilter{topic: string(q.Peek("topic")), jobid: string(q.Peek("jobid")), final: string(q.Peek("final")), limit: 1000}
	bad := func(key, want string) error {
		return errf(fasthttp.StatusBadRequest, CodeBadRequest, "query %s=%q: %s", key, q.Peek(key), want)
	}
	if v := q.Peek("sub"); len(v) > 0 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n <= 0 {
			return nil, bad("sub", "a subscription id")
		}
		f.sub = n
	}
	if v := q.Peek("since"); len(v) > 0 {
		d, err := time.ParseDuration(string(v))
		if err != nil || d <= 0 {
			return nil, bad("since", "a duration such as 30m or 2h")
		}
		f.since = time.Now().Add(-d)
	}
	if v := q.Peek("limit"); len(v) > 0 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n <= 0 || n > 100000 {
			return nil, bad("limit", "1..100000 (newest records read from the stream)")
		}
		f.limit = n
	}
	switch f.final {
	case "", "retrying", failures.Success, failures.GivenUp:
	default:
		return nil, bad("final", "one of retrying, "+failures.Success+", "+failures.GivenUp)
	}
	return f, nil
}

func (a *API) failuresKey() string { return a.d.Config.Redis.KeyPrefix + ":failures" }

func (a *API) listFailures(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	f, err := parseFailureFilter(ctx)
	if err != nil {
		return nil, err
	}
	c, err := a.requireRedis()
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := failures.Query(octx, c, a.failuresKey(), f.limit, f.keep)
	if err != nil {
		return nil, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "%v", err)
	}
	out := &adminapi.FailureList{Records: make([]adminapi.Failure, 0, len(recs))}
	for _, r := range recs {
		out.Records = append(out.Records, adminapi.Failure(r.View()))
	}
	return out, nil
}

// resend puts the message of each matching given-up record back into its
// channel tube (same jobid), once per log id even if the stream holds
// several events of it.
func (a *API) resend(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	var req adminapi.ResendRequest
	if err := decode(ctx, &req); err != nil {
		return nil, err
	}
	if (len(req.LogIDs) == 0) == (req.Sub == 0) {
		return nil, errf(fasthttp.StatusBadRequest, CodeBadRequest, "give log_ids or sub (one of them)")
	}
	f := &failureFilter{sub: req.Sub, final: failures.GivenUp, limit: req.Limit}
	if f.limit <= 0 {
		f.limit = 10000
	}
	if len(req.LogIDs) > 0 {
		f.logID = map[uint64]bool{}
		for _, id := range req.LogIDs {
			f.logID[id] = true
		}
	}
	c, err := a.requireRedis()
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := failures.Query(octx, c, a.failuresKey(), f.limit, f.keep)
	if err != nil {
		return nil, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "%v", err)
	}
	out := &adminapi.ResendResult{Resent: []uint64{}}
	done := map[uint64]bool{}
	for _, r := range recs {
		if done[r.LogID] {
			continue
		}
		done[r.LogID] = true
		if err := failures.Resend(octx, a.d.Pool, r, a.d.Config.PrefixOfChannelQueue); err != nil {
			out.Errors = append(out.Errors, err.Error())
			continue
		}
		out.Resent = append(out.Resent, r.LogID)
	}
	for _, id := range req.LogIDs {
		if !done[id] {
			out.Errors = append(out.Errors, "log id "+strconv.FormatUint(id, 10)+": no given_up record among the newest "+strconv.FormatInt(f.limit, 10))
		}
	}
	a.d.Log.Info("admin API: failure records re-sent", "resent", len(out.Resent), "errors", len(out.Errors))
	return out, nil
}

func (a *API) recoverStatus(_ *fasthttp.RequestCtx, _ int64) (any, error) {
	c, err := a.requireRedis()
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lists, err := recoverlist.Status(octx, c, a.d.Config.MsgQueueFaultToleranceListNamePrefix)
	if err != nil {
		return nil, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "%v", err)
	}
	out := &adminapi.RecoverStatus{Prefix: a.d.Config.MsgQueueFaultToleranceListNamePrefix, Lists: make([]adminapi.RecoverList, 0, len(lists))}
	for _, l := range lists {
		out.Lists = append(out.Lists, adminapi.RecoverList(l))
		out.Total += l.Length
	}
	return out, nil
}

func (a *API) recentAlerts(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	n := 100
	if v := ctx.QueryArgs().Peek("limit"); len(v) > 0 {
		k, err := strconv.Atoi(string(v))
		if err != nil || k <= 0 || k > 1000 {
			return nil, errf(fasthttp.StatusBadRequest, CodeBadRequest, "query limit=%q: 1..1000", v)
		}
		n = k
	}
	return &adminapi.AlertList{Alerts: wireAlerts(a.d.Alerts.Recent(n))}, nil
}

func (a *API) alertSettings(_ *fasthttp.RequestCtx, _ int64) (any, error) {
	return globalsView(a.d.Alerts.Globals()), nil
}

func globalsView(g alert.Globals) *adminapi.AlertSettings {
	return &adminapi.AlertSettings{DefaultAlarmReceiver: &g.DefaultAlarmReceiver, DefaultAlarmChan: &g.DefaultAlarmChan,
		GlobalMessageBlockedAlertThreshold:   &g.GlobalMessageBlockedAlertThreshold,
		NameOfMainQueueBlockedAlertThreshold: &g.NameOfMainQueueBlockedAlertThreshold,
		GlobalMessageBlockedAlarmInterval:    &g.GlobalMessageBlockedAlarmInterval}
}

// setAlertSettings changes the keys the body names; the others keep their
// value. They hold until the daemon restarts (the config file keeps the
// values it starts with).
func (a *API) setAlertSettings(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	var req adminapi.AlertSettings
	if err := decode(ctx, &req); err != nil {
		return nil, err
	}
	g := a.d.Alerts.Globals()
	if req.DefaultAlarmReceiver != nil {
		g.DefaultAlarmReceiver = *req.DefaultAlarmReceiver
	}
	if req.DefaultAlarmChan != nil {
		g.DefaultAlarmChan = *req.DefaultAlarmChan
	}
	if req.GlobalMessageBlockedAlertThreshold != nil {
		g.GlobalMessageBlockedAlertThreshold = *req.GlobalMessageBlockedAlertThreshold
	}
	if req.NameOfMainQueueBlockedAlertThreshold != nil {
		g.NameOfMainQueueBlockedAlertThreshold = *req.NameOfMainQueueBlockedAlertThreshold
	}
	if req.GlobalMessageBlockedAlarmInterval != nil {
		g.GlobalMessageBlockedAlarmInterval = *req.GlobalMessageBlockedAlarmInterval
	}
	if err := a.d.Alerts.SetGlobals(g); err != nil {
		return nil, errf(fasthttp.StatusUnprocessableEntity, CodeInvalid, "%v", err)
	}
	a.d.Log.Info("admin API: global alert settings changed", "receiver", g.DefaultAlarmReceiver, "chan", g.DefaultAlarmChan,
		"global_threshold", g.GlobalMessageBlockedAlertThreshold, "main_threshold", g.NameOfMainQueueBlockedAlertThreshold,
		"interval_s", g.GlobalMessageBlockedAlarmInterval)
	return globalsView(a.d.Alerts.Globals()), nil
}
