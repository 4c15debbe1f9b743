package admin

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/redact"
)

func or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func effective(c *config.Config, s *subs.Subscription) adminapi.Effective {
	e := adminapi.Effective{
		TimeoutMS:             min(or(s.TimeoutMS, c.DefaultMaxMessageProcessTime), c.MaxMessageProcessTime),
		Concurrency:           or(s.Concurrency, c.SendersPerChannel),
		RetryConcurrency:      or(s.RetryConcurrency, c.SendersPerRetryChannel),
		IntervalMS:            or(s.IntervalMS, c.IntervalOfSendingForSendRoutine),
		Rate:                  s.Rate,
		MaxRetries:            c.MaxRetryTimesOfSendingMessage,
		AlertIntervalS:        or(s.AlertIntervalS, c.AlarmInterval),
		AlertFailureWindowS:   or(s.AlertFailureWindowS, c.IntervalOfErrorMonitorAlert),
		AlertFailureThreshold: or(s.AlertFailureThreshold, c.SubscriptionTotalFailureAlertThreshold),
		AlertRetryThreshold:   or(s.AlertRetryThreshold, c.MessageFailureAlertThreshold),
		AlertBacklogThreshold: or(s.AlertBacklogThreshold, c.MessageBlockedAlertThreshold),
		CircuitBreaker:        s.CircuitBreaker,
		AdaptiveWindow:        s.AdaptiveWindow,
	}
	if e.CircuitBreaker == "" {
		e.CircuitBreaker = c.CircuitBreaker
	}
	if e.AdaptiveWindow == "" {
		e.AdaptiveWindow = c.AdaptiveWindow
	}
	if s.Rate > 0 {
		e.Burst = s.EffectiveBurst()
	}
	return e
}

// unmask gives back the secrets a client could not send: each URL line of
// s that is exactly the masked form of a line of cur's URL (what GET
// showed) becomes that line again. A masked line matching none (cur nil:
// a new subscription) is refused, rather than stored with "xxxxx" as its
// password. The signing secrets likewise (unmaskSecrets).
func unmask(s, cur *subs.Subscription) error {
	if err := unmaskSecrets(s, cur); err != nil {
		return err
	}
	if !redact.Masked(s.URL) {
		return nil
	}
	current := ""
	if cur != nil {
		current = cur.URL
	}
	u, ok := redact.Unmask(s.URL, current)
	if !ok {
		ae := errf(fasthttp.StatusUnprocessableEntity, CodeInvalid,
			"subscription %d: a URL line carries a masked password (%s) that matches no line of the current URL", s.ID, redact.Mask)
		ae.Details = []adminapi.FieldProblem{{Field: "url", Value: redact.URL(s.URL),
			Allowed: "full URLs; a line with a masked userinfo is kept only when it is exactly as GET shows a line of the current URL"}}
		return ae
	}
	s.URL = u
	return nil
}

// unmaskSecrets gives back the signing secrets a client could only send
// masked: a list that is exactly what GET showed of cur's (one
// redact.SecretMask per secret) becomes cur's. Any other list holding a
// mask is refused; to rotate, send the secrets themselves.
func unmaskSecrets(s, cur *subs.Subscription) error {
	if !redact.SecretsMasked(s.SigningSecrets) {
		return nil
	}
	if cur != nil && slices.Equal(s.SigningSecrets, redact.Secrets(cur.SigningSecrets)) {
		s.SigningSecrets = slices.Clone(cur.SigningSecrets)
		return nil
	}
	ae := errf(fasthttp.StatusUnprocessableEntity, CodeInvalid,
		"subscription %d: signing_secrets holds a masked secret (%s) that is not exactly what GET shows of the current secrets", s.ID, redact.SecretMask)
	ae.Details = []adminapi.FieldProblem{{Field: "signing_secrets", Value: redact.Secrets(s.SigningSecrets),
		Allowed: "the secrets themselves; the masked list is kept only when it is exactly as GET shows the current one"}}
	return ae
}

// view is s as the API shows it: its URL's userinfo and its signing
// secrets masked (see redact.URL, redact.Secrets), with its effective
// settings, tubes, backlog, circuit breaker state, push window and
// content filter counts.
func (a *API) view(s *subs.Subscription) *adminapi.SubView {
	prefix := a.d.Config.PrefixOfChannelQueue
	w := wireSub(s)
	w.URL = redact.URL(s.URL)
	w.SigningSecrets = redact.Secrets(s.SigningSecrets)
	v := &adminapi.SubView{Subscription: w, Effective: effective(a.d.Config, s),
		Tubes:   adminapi.Tubes{Channel: s.ChannelTube(prefix), Retry: s.RetryTube(prefix)},
		Breaker: a.d.Engine.BreakerState(s.ID)}
	if ch, retry, ok := a.d.Engine.PushWindow(s.ID); ok {
		v.Window = &adminapi.PushWindow{Channel: ch, Retry: retry}
	}
	if f, ok := a.d.Engine.Filters(s.ID); ok {
		v.Filtered, v.FilterErrors = f.Filtered, f.Errors
	}
	if a.d.Backlog != nil {
		v.Channel = a.backlogOf(v.Tubes.Channel)
		v.Retry = a.backlogOf(v.Tubes.Retry)
	}
	return v
}

// backlogOf is the last sampled backlog of tube; nil before the first
// sample.
func (a *API) backlogOf(tube string) *adminapi.Counts {
	smp, ok := a.d.Backlog.Get(tube)
	if !ok {
		return nil
	}
	c := adminapi.Counts(smp.Sum)
	return &c
}

func (a *API) listSubs(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	topic := string(ctx.QueryArgs().Peek("topic"))
	secrets, err := a.withSecrets(ctx)
	if err != nil {
		return nil, err
	}
	out := &adminapi.SubList{Source: a.d.Config.SubscriptionSource, Writable: a.writable() == nil,
		Subscriptions: []*adminapi.SubView{}}
	for _, s := range a.d.Engine.Subscriptions().All() {
		if topic == "" || s.Topic == topic {
			v := a.view(s)
			if secrets {
				v.URL, v.SigningSecrets = s.URL, s.SigningSecrets
			}
			out.Subscriptions = append(out.Subscriptions, v)
		}
	}
	if secrets {
		a.d.Log.Info("admin API: subscriptions read with their URLs' secrets", "from", ctx.RemoteAddr().String(), "count", len(out.Subscriptions))
	}
	return out, nil
}

// withSecrets reports whether a list asks for the URLs unmasked
// (?secrets=1, for medictl subs export). Only a daemon with an AdminToken
// serves that, to a request that carried it (every /api/ route checks
// it): a token-less daemon on loopback answers anyone on the host.
func (a *API) withSecrets(ctx *fasthttp.RequestCtx) (bool, error) {
	v := string(ctx.QueryArgs().Peek("secrets"))
	switch v {
	case "", "0":
		return false, nil
	case "1":
	default:
		return false, errf(fasthttp.StatusBadRequest, CodeBadRequest, "secrets=%q: must be 1 or 0", v)
	}
	if len(a.token) == 0 {
		return false, errf(fasthttp.StatusForbidden, CodeForbidden,
			"secrets=1 is served only by a daemon with an AdminToken, to a request carrying it; set AdminToken (or MEDISPATCHER_ADMIN_TOKEN)")
	}
	return true, nil
}

func (a *API) getSub(_ *fasthttp.RequestCtx, id int64) (any, error) {
	s, err := a.subOr404(id)
	if err != nil {
		return nil, err
	}
	return a.view(s), nil
}

func (a *API) writable() error {
	if a.d.Config.SubscriptionFromRedis || a.d.Config.SubscriptionFromMySQL {
		return nil
	}
	return errf(fasthttp.StatusConflict, CodeReadOnlySource,
		"subscriptions come from %s: edit that file (the daemon reloads it on change or SIGHUP)", a.d.Config.SubscriptionSource)
}

func (a *API) limits() subs.Limits {
	c := a.d.Config
	return subs.Limits{MaxConcurrency: c.MaxSendersPerChannel, MaxRetryConcurrency: c.MaxSendersPerRetryChannel,
		MaxTimeoutMS: c.MaxMessageProcessTime, ChannelPrefix: c.PrefixOfChannelQueue}
}

// validate turns subs validation errors into a 422 with one detail per
// field.
func (a *API) validate(s *subs.Subscription) error {
	err := s.Validate(a.limits())
	if err == nil {
		return nil
	}
	return a.invalid(s.ID, "is not valid", err)
}

// validateNew is validate for a new subscription, which a database
// source numbers itself when the body gives no id: it is checked as if
// it had the largest id the tables hold (its tube names are then the
// longest they can be).
func (a *API) validateNew(s *subs.Subscription) error {
	if s.ID != 0 || !a.d.Config.SubscriptionFromMySQL {
		return a.validate(s)
	}
	probe := *s
	probe.ID = paneldb.MaxID
	if err := probe.Validate(a.limits()); err != nil {
		return a.invalid(0, "is not valid", err)
	}
	return nil
}

// invalid is a 422 for err (*subs.ValidationError, joined) with one
// detail per field; the message says what is wrong with subscription id.
func (a *API) invalid(id int64, what string, err error) error {
	ae := errf(fasthttp.StatusUnprocessableEntity, CodeInvalid, "subscription %d %s", id, what)
	var joined interface{ Unwrap() []error }
	list := []error{err}
	if errors.As(err, &joined) {
		list = joined.Unwrap()
	}
	for _, e := range list {
		var ve *subs.ValidationError
		if errors.As(e, &ve) {
			val := ve.Value
			if str, ok := val.(string); ok {
				val = redact.URL(str)
			}
			ae.Details = append(ae.Details, adminapi.FieldProblem{Field: ve.Field, Value: val, Allowed: redact.URL(ve.Allowed)})
		}
	}
	return ae
}

// decodeSub decodes a subscription body, refusing unknown keys.
func decodeSub(body []byte) (*subs.Subscription, error) {
	s, unknown, err := subs.DecodeJSON(body)
	if err != nil {
		return nil, errf(fasthttp.StatusBadRequest, CodeBadRequest, "%v", err)
	}
	if len(unknown) > 0 {
		return nil, errf(fasthttp.StatusBadRequest, CodeBadRequest, "unknown keys: %s", strings.Join(unknown, ", "))
	}
	return s, nil
}

// incoming is the subscription a write's body describes. The source must
// be writable and subscription id must exist (id 0: a new subscription,
// none current); dec decodes the body given the current subscription, and
// the URL lines a client could only send masked get their secrets back
// from it.
func (a *API) incoming(id int64, dec func(cur *subs.Subscription) (*subs.Subscription, error)) (*subs.Subscription, error) {
	if err := a.writable(); err != nil {
		return nil, err
	}
	var cur *subs.Subscription
	if id != 0 {
		var err error
		if cur, err = a.subOr404(id); err != nil {
			return nil, err
		}
	}
	s, err := dec(cur)
	if err != nil {
		return nil, err
	}
	if err := unmask(s, cur); err != nil {
		return nil, err
	}
	return s, nil
}

func (a *API) createSub(ctx *fasthttp.RequestCtx, _ int64) (any, error) {
	s, err := a.incoming(0, func(*subs.Subscription) (*subs.Subscription, error) { return decodeSub(ctx.PostBody()) })
	if err != nil {
		return nil, err
	}
	if err := a.validateNew(s); err != nil {
		return nil, err
	}
	if a.d.Config.SubscriptionFromMySQL {
		if err := a.storable(s); err != nil {
			return nil, err
		}
		res, err := a.createPanel(s)
		if err != nil {
			return nil, err
		}
		return created{res}, nil
	}
	c, err := a.requireRedis()
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	exists, err := c.Do(octx, c.B().Hexists().Key(subs.RedisHashKey(a.d.Config.Redis.KeyPrefix)).Field(strconv.FormatInt(s.ID, 10)).Build()).AsBool()
	if err != nil {
		return nil, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "redis: %v", err)
	}
	if exists {
		return nil, errf(fasthttp.StatusConflict, CodeConflict, "subscription %d exists; PUT or PATCH /api/v1/subscriptions/%d changes it", s.ID, s.ID)
	}
	res, err := a.store(octx, s)
	if err != nil {
		return nil, err
	}
	return created{res}, nil
}

func (a *API) replaceSub(ctx *fasthttp.RequestCtx, id int64) (any, error) {
	s, err := a.incoming(id, func(*subs.Subscription) (*subs.Subscription, error) { return decodeSub(ctx.PostBody()) })
	if err != nil {
		return nil, err
	}
	return a.update(ctx, id, s)
}

// patchSub changes only the keys the body names: the way to set one
// parameter (concurrency, rate, timeout, URL, alert settings…) live.
func (a *API) patchSub(ctx *fasthttp.RequestCtx, id int64) (any, error) {
	s, err := a.incoming(id, func(cur *subs.Subscription) (*subs.Subscription, error) { return patchedSub(cur, ctx.PostBody()) })
	if err != nil {
		return nil, err
	}
	return a.update(ctx, id, s)
}

// patchedSub is cur with the keys of the PATCH body changed.
func patchedSub(cur *subs.Subscription, body []byte) (*subs.Subscription, error) {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
		return nil, errf(fasthttp.StatusBadRequest, CodeBadRequest, "body must be a JSON object of the keys to change")
	}
	base, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return nil, err
	}
	// JSON keys match without regard to case when decoded: lower-case the
	// patch's so that "Concurrency" replaces "concurrency" instead of
	// losing to it. One key spelt two ways is refused: which would win
	// depends on map order.
	given := make(map[string]string, len(patch))
	for k, v := range patch {
		lk := strings.ToLower(k)
		if other, dup := given[lk]; dup {
			return nil, errf(fasthttp.StatusBadRequest, CodeBadRequest, "keys %q and %q are the same key", min(k, other), max(k, other))
		}
		given[lk] = k
		merged[lk] = v
	}
	body, err = json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	return decodeSub(body)
}

func (a *API) update(ctx *fasthttp.RequestCtx, id int64, s *subs.Subscription) (any, error) {
	if s.ID == 0 {
		s.ID = id
	}
	if s.ID != id {
		return nil, errf(fasthttp.StatusUnprocessableEntity, CodeInvalid, "the body's id %d is not the path's %d", s.ID, id)
	}
	if err := a.validate(s); err != nil {
		return nil, err
	}
	if err := a.storable(s); err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return a.store(octx, s)
}

// Bounds of a change: writeTimeout the write itself, baseApplyWait the
// wait for this daemon to apply it (see applyWait).
const (
	writeTimeout  = 5 * time.Second
	baseApplyWait = 5 * time.Second
)

// store writes s to the source (Redis, or the 2.x tables) and waits until
// this daemon's engine runs it.
func (a *API) store(ctx context.Context, s *subs.Subscription) (*adminapi.Changed, error) {
	if a.d.Config.SubscriptionFromMySQL {
		if err := a.updatePanel(ctx, s); err != nil {
			return nil, err
		}
		return a.applied(s), nil
	}
	c, err := a.requireRedis()
	if err != nil {
		return nil, err
	}
	if err := subs.RedisPut(ctx, c, a.d.Config.Redis.KeyPrefix, s); err != nil {
		return nil, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "%v", err)
	}
	return a.applied(s), nil
}

// applied waits until this daemon's engine runs s as stored and answers
// the change.
func (a *API) applied(s *subs.Subscription) *adminapi.Changed {
	got := a.waitApplied(func(set *subs.Set) bool { return set.ByID(s.ID).Equal(s) })
	out := &adminapi.Changed{Applied: got}
	if live := a.d.Engine.Subscriptions().ByID(s.ID); got && live != nil {
		out.Subscription = a.view(live)
	} else {
		out.Subscription = a.view(s)
	}
	a.d.Log.Info("admin API: subscription stored", "sub", s.ID, "topic", s.Topic, "applied", got)
	return out
}

// waitApplied waits until cond holds for the live set, woken by each
// applied set, at most applyWait.
func (a *API) waitApplied(cond func(*subs.Set) bool) bool {
	deadline := time.NewTimer(a.applyWait())
	defer deadline.Stop()
	for {
		changed := a.d.Engine.Changed()
		if cond(a.d.Engine.Subscriptions()) {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

func (a *API) deleteSub(_ *fasthttp.RequestCtx, id int64) (any, error) {
	if err := a.writable(); err != nil {
		return nil, err
	}
	if _, err := a.subOr404(id); err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := a.remove(octx, id); err != nil {
		return nil, err
	}
	got := a.waitApplied(func(set *subs.Set) bool { return set.ByID(id) == nil })
	a.d.Log.Info("admin API: subscription cancelled", "sub", id, "applied", got)
	return &adminapi.Changed{Applied: got, Deleted: id}, nil
}

// remove cancels subscription id in the source: HDEL in Redis, status = 1
// in the 2.x tables.
func (a *API) remove(ctx context.Context, id int64) error {
	if a.d.Config.SubscriptionFromMySQL {
		return a.cancelPanel(ctx, id)
	}
	c, err := a.requireRedis()
	if err != nil {
		return err
	}
	if err := subs.RedisDelete(ctx, c, a.d.Config.Redis.KeyPrefix, id); err != nil {
		return errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "%v", err)
	}
	return nil
}

func (a *API) defaults(_ *fasthttp.RequestCtx, _ int64) (any, error) {
	c := a.d.Config
	return &adminapi.Defaults{
		Concurrency: c.SendersPerChannel, MaxConcurrency: c.MaxSendersPerChannel,
		RetryConcurrency: c.SendersPerRetryChannel, MaxRetryConcurrency: c.MaxSendersPerRetryChannel,
		TimeoutMS: c.DefaultMaxMessageProcessTime, MaxTimeoutMS: c.MaxMessageProcessTime,
		IntervalMS: c.IntervalOfSendingForSendRoutine, MaxRetries: c.MaxRetryTimesOfSendingMessage,
		RetryCoeS:      c.CoeOfIntervalForRetrySendingMsg,
		AlertIntervalS: c.AlarmInterval, AlertFailureWindowS: c.IntervalOfErrorMonitorAlert,
		AlertFailureThreshold: c.SubscriptionTotalFailureAlertThreshold,
		AlertRetryThreshold:   c.MessageFailureAlertThreshold, AlertBacklogThreshold: c.MessageBlockedAlertThreshold,
	}, nil
}
