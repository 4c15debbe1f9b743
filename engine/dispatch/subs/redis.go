package subs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"medispatcher/internal/wire"
)

// DefaultRedisPrefix starts every key of the Redis layout (see the package
// doc). The braces are a Redis Cluster hash tag: all keys share one slot.
const DefaultRedisPrefix = wire.DefaultRedisPrefix

const (
	// redisOpTimeout bounds one read, so a hung server cannot stall the
	// source past its own reconnect.
	redisOpTimeout = 5 * time.Second
	// Backoff between failed reads or subscriptions.
	redisMinBackoff = 50 * time.Millisecond
	redisMaxBackoff = 2 * time.Second
	// maxPendingIDs bounds the ids collected between two reads; beyond it
	// one HGETALL is cheaper than a huge HMGET.
	maxPendingIDs = 256
)

// RedisHashKey is the HASH holding the subscriptions under prefix.
func RedisHashKey(prefix string) string { return wire.RedisSubsHash(prefix) }

// RedisChannel is the pub/sub channel announcing changed ids under prefix.
func RedisChannel(prefix string) string { return wire.RedisSubsChannel(prefix) }

// RedisSource reads subscriptions from Redis and follows changes announced
// on the change channel (layout in the package doc).
//
// Until the first read succeeds nothing is applied; afterwards a failed
// read keeps the last set and is retried with backoff. Each reconnect
// re-reads the whole hash. When Run ends it unsubscribes the client's
// connection from the change channel, so give each source its own client
// (one per daemon, as in production).
type RedisSource struct {
	client  rueidis.Client
	hash    string
	channel string
	lim     Limits
	log     *slog.Logger
	invalid *invalidLog
	problem atomic.Pointer[string]
}

// Problem implements Problemer: why the last read failed or found no
// subscription, or "".
func (r *RedisSource) Problem() string {
	if p := r.problem.Load(); p != nil {
		return *p
	}
	return ""
}

func (r *RedisSource) setProblem(p string) { r.problem.Store(&p) }

// NewRedisSource returns a source reading through client under keyPrefix
// (DefaultRedisPrefix when empty). Nothing is read before Run.
func NewRedisSource(client rueidis.Client, keyPrefix string, lim Limits, log *slog.Logger) *RedisSource {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("key", RedisHashKey(keyPrefix))
	return &RedisSource{
		client:  client,
		hash:    RedisHashKey(keyPrefix),
		channel: RedisChannel(keyPrefix),
		lim:     lim,
		log:     log,
		invalid: newInvalidLog(log),
	}
}

// SetOptions sets the optional settings; call it before Run.
func (r *RedisSource) SetOptions(o Options) { r.invalid.opts = o }

// changes collects what the notifications asked for between two reads.
type changes struct {
	mu  sync.Mutex
	ids map[int64]struct{}
	all bool // re-read the whole hash
}

func (c *changes) add(msg string) {
	id, err := strconv.ParseInt(msg, 10, 64)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || id <= 0 || len(c.ids) >= maxPendingIDs {
		c.all = true
		return
	}
	c.ids[id] = struct{}{}
}

func (c *changes) markAll() {
	c.mu.Lock()
	c.all = true
	c.mu.Unlock()
}

// take returns and clears what is pending.
func (c *changes) take() (ids []int64, all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all, c.all = c.all, false
	if !all {
		ids = slices.Collect(maps.Keys(c.ids))
	}
	clear(c.ids)
	return ids, all
}

func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run implements Source. It returns nil when ctx is done.
func (r *RedisSource) Run(ctx context.Context, apply func(*Set)) error {
	pending := &changes{ids: make(map[int64]struct{}), all: true}
	wake := make(chan struct{}, 1)
	signal(wake) // first read right away; the subscription's confirmation asks again

	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		r.receive(ctx, pending, wake)
	}()
	defer func() { <-recvDone }()

	var (
		state   = make(map[int64]*Subscription)
		cur     *Set
		backoff = redisMinBackoff
		retry   = time.NewTimer(time.Hour)
	)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-retry.C:
			pending.markAll()
		}
		ids, all := pending.take()
		var (
			err  error
			held []int64
		)
		if all {
			held, err = r.readAll(ctx, state)
		} else if len(ids) > 0 {
			err = r.readIDs(ctx, ids, state)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.setProblem("cannot read Redis hash " + r.hash + ": " + err.Error())
			r.log.Error("cannot read subscriptions; keeping the previous set", "err", err, "retry_in", backoff)
			retry.Reset(backoff)
			backoff = min(2*backoff, redisMaxBackoff)
			continue
		}
		backoff = redisMinBackoff
		if !all && len(ids) == 0 {
			continue
		}
		next := NewSet(slices.Collect(maps.Values(state)))
		r.setProblem("")
		if next.Len() == 0 {
			r.setProblem("Redis hash " + r.hash + " is empty or missing (check Redis.KeyPrefix and DbIndex)")
		}
		if cur != nil && next.Equal(cur) {
			continue
		}
		if all {
			r.log.Info("subscriptions loaded", "count", next.Len(), "held_at_last_good", idList(held))
		}
		warnNoURL(r.log, r.invalid.opts.Env, cur, next)
		cur = next
		apply(cur)
	}
}

// receive keeps a subscription to the change channel until ctx is done.
// Every confirmed (re)subscription asks for a full read, so changes made
// while disconnected are caught up.
func (r *RedisSource) receive(ctx context.Context, pending *changes, wake chan<- struct{}) {
	hctx := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
		// Runs in the client's pipeline goroutine: only flag and signal.
		if s.Kind == "subscribe" && s.Channel == r.channel {
			r.log.Debug("subscribed to change channel", "channel", r.channel)
			pending.markAll()
			signal(wake)
		}
	})
	hctx = rueidis.WithOnReceiveReturnHook(hctx, func(err error, c rueidis.CommandClient) error {
		if ctx.Err() != nil {
			// The connection may be shared: leave it unsubscribed.
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = c.Do(uctx, c.B().Unsubscribe().Channel(r.channel).Build()).Error()
		}
		return err
	})
	onMessage := func(m rueidis.PubSubMessage) {
		pending.add(m.Message)
		signal(wake)
	}
	backoff := redisMinBackoff
	for {
		start := time.Now()
		err := r.client.Receive(hctx, r.client.B().Subscribe().Channel(r.channel).Build(), onMessage)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > redisMaxBackoff {
			backoff = redisMinBackoff
		}
		r.log.Warn("subscription to change channel ended; resubscribing",
			"channel", r.channel, "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, redisMaxBackoff)
	}
}

// readAll replaces state by the whole hash. An entry that fails
// validation keeps its version in state when it has one there; held lists
// those.
func (r *RedisSource) readAll(ctx context.Context, state map[int64]*Subscription) (held []int64, err error) {
	cctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	m, err := r.client.Do(cctx, r.client.B().Hgetall().Key(r.hash).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("hgetall %s: %w", r.hash, err)
	}
	last := maps.Clone(state)
	clear(state)
	r.invalid.startRound()
	defer r.invalid.endRound()
	for field, value := range m {
		s, id, err := r.decode(field, value)
		if err != nil {
			keep := last[id] != nil
			if keep {
				state[id] = last[id]
				held = append(held, id)
			}
			r.invalid.report(field, id, value, keep, err, "field", field)
			continue
		}
		state[s.ID] = s
	}
	slices.Sort(held)
	return held, nil
}

// readIDs re-reads the given fields into state.
func (r *RedisSource) readIDs(ctx context.Context, ids []int64, state map[int64]*Subscription) error {
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = strconv.FormatInt(id, 10)
	}
	cctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	vals, err := r.client.Do(cctx, r.client.B().Hmget().Key(r.hash).Field(fields...).Build()).ToArray()
	if err != nil {
		return fmt.Errorf("hmget %s %s: %w", r.hash, strings.Join(fields, " "), err)
	}
	if len(vals) != len(ids) {
		return fmt.Errorf("hmget %s: %d values for %d fields", r.hash, len(vals), len(ids))
	}
	for i, id := range ids {
		value, err := vals[i].ToString()
		if rueidis.IsRedisNil(err) {
			if _, had := state[id]; had {
				r.log.Info("subscription deleted", "sub", id)
			}
			delete(state, id)
			r.invalid.forget(fields[i])
			continue
		}
		if err != nil {
			return fmt.Errorf("hmget %s %d: %w", r.hash, id, err)
		}
		s, _, err := r.decode(fields[i], value)
		if err != nil {
			// The last good version, if any, stays in state.
			r.invalid.report(fields[i], id, value, state[id] != nil, err, "field", fields[i])
			continue
		}
		r.invalid.forget(fields[i])
		state[id] = s
	}
	return nil
}

// decode parses and validates one hash entry. id is the field's id, 0
// when the field is not one (in decimal, as RedisPut writes it).
func (r *RedisSource) decode(field, value string) (s *Subscription, id int64, err error) {
	id, err = strconv.ParseInt(field, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != field {
		return nil, 0, fmt.Errorf("hash field %q is not a subscription id: %w", field, ErrInvalid)
	}
	s, err = decodeEntry(id, value, r.lim, func(unknown []string) {
		r.log.Warn("subscription has unknown keys; ignored", "sub", id, "keys", strings.Join(unknown, ","))
	})
	return s, id, err
}

// decodeEntry decodes and validates the JSON value of hash field id;
// unknown, when not nil, hears of keys DecodeJSON does not know.
func decodeEntry(id int64, value string, lim Limits, unknownKeys func([]string)) (*Subscription, error) {
	s, unknown, err := DecodeJSON([]byte(value))
	if err != nil {
		return nil, fmt.Errorf("subscription %d: %w", id, err)
	}
	if len(unknown) > 0 && unknownKeys != nil {
		unknownKeys(unknown)
	}
	if s.ID == 0 {
		s.ID = id
	}
	if s.ID != id {
		return nil, &ValidationError{ID: id, Field: "id", Value: s.ID, Allowed: "must equal the hash field " + strconv.FormatInt(id, 10)}
	}
	if err := s.Validate(lim); err != nil {
		return nil, err
	}
	return s, nil
}

// jsonKeys are the keys of the JSON form, from the struct tags. Read only.
var jsonKeys = func() map[string]bool {
	t := reflect.TypeFor[Subscription]()
	keys := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag != "" {
			keys[tag] = true
		}
	}
	return keys
}()

// DecodeJSON decodes the JSON form of a subscription (as stored in Redis
// and sent to the admin API) onto the defaults of absent keys and names the
// keys it does not know. It does not validate.
func DecodeJSON(data []byte) (*Subscription, []string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("decode JSON: %w", errors.Join(ErrInvalid, err))
	}
	s := newDecoded()
	if err := json.Unmarshal(data, s); err != nil {
		return nil, nil, fmt.Errorf("decode JSON: %w", errors.Join(ErrInvalid, err))
	}
	var unknown []string
	for k := range raw {
		if !jsonKeys[strings.ToLower(k)] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	return s, unknown, nil
}

// RedisPut stores s under prefix and announces it: HSET of the JSON form,
// then PUBLISH of the id, pipelined in one round trip but not in a
// transaction (PUBLISH has no key, so MULTI would tie the two to one
// cluster node). Both are idempotent, so the client retries them on a
// broken connection (a stale connection after a Redis restart fails its
// first command). If the PUBLISH still fails the change is stored but
// daemons see it only at their next full read: the error is returned and
// the caller retries. Callers validate s with the daemon's Limits first;
// RedisPut only requires an id.
func RedisPut(ctx context.Context, client rueidis.Client, prefix string, s *Subscription) error {
	if s == nil || s.ID <= 0 {
		return fmt.Errorf("redis put subscription: id must be > 0: %w", ErrInvalid)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode subscription %d: %w", s.ID, err)
	}
	id := strconv.FormatInt(s.ID, 10)
	hash := RedisHashKey(prefix)
	res := client.DoMulti(ctx,
		client.B().Hset().Key(hash).FieldValue().FieldValue(id, string(data)).Build().ToRetryable(),
		client.B().Publish().Channel(RedisChannel(prefix)).Message(id).Build().ToRetryable(),
	)
	for i, op := range [...]string{"hset", "publish"} {
		if err := res[i].Error(); err != nil {
			return fmt.Errorf("redis put subscription %d: %s: %w", s.ID, op, err)
		}
	}
	return nil
}

// RedisDelete removes subscription id under prefix and announces it (HDEL
// then PUBLISH, as RedisPut). Deleting a missing id is not an error.
func RedisDelete(ctx context.Context, client rueidis.Client, prefix string, id int64) error {
	f := strconv.FormatInt(id, 10)
	res := client.DoMulti(ctx,
		client.B().Hdel().Key(RedisHashKey(prefix)).Field(f).Build().ToRetryable(),
		client.B().Publish().Channel(RedisChannel(prefix)).Message(f).Build().ToRetryable(),
	)
	for i, op := range [...]string{"hdel", "publish"} {
		if err := res[i].Error(); err != nil {
			return fmt.Errorf("redis delete subscription %d: %s: %w", id, op, err)
		}
	}
	return nil
}
