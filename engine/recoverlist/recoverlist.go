// Package recoverlist drains the recover lists: Redis lists (names starting
// with MsgQueueFaultToleranceListNamePrefix) that producers push a job to
// when they cannot reach beanstalkd. Each entry goes into the main tube
// with its own priority and delay (spec section 7).
//
// Nothing popped is ever dropped silently: an entry that cannot be put is
// pushed back (RPUSH, the end BRPOP takes from, so it is tried first next
// time); one that cannot be pushed back either is written to the DATA log
// (RECOVFAILBACK), as are entries that do not decode (RECOVFAILDECODE) or
// are not a job map (RECOVFAILASSERT). A job beanstalkd refuses as too big
// is set aside in the DATA log (RECOVTOOBIG) instead of looping.
//
// Lists are found with SCAN (never KEYS), at start and every ScanEvery;
// known lists are drained with one blocking BRPOP over all of them, so an
// entry is taken the moment it is pushed.
package recoverlist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/redis/rueidis"

	"medispatcher/connpool"
	"medispatcher/engine/datalog"
	"medispatcher/engine/message"
)

// DataLog receives what could not go back to Redis or into a queue.
type DataLog interface {
	RecovFailBack(raw []byte, reason string) error
	RecovFailDecode(raw []byte, reason string) error
	RecovFailAssert(raw []byte, reason string) error
	Write(cat datalog.Category, fields []datalog.Field, raw []byte) error
}

// TooBig is the DATA log category of entries beanstalkd refused as too big.
const TooBig datalog.Category = "RECOVTOOBIG"

// Config of a Watcher.
type Config struct {
	Prefix    string        // MsgQueueFaultToleranceListNamePrefix
	MainTube  string        // NameOfMainQueue
	ScanEvery time.Duration // how often lists are looked for; default 2 s
	Wait      time.Duration // BRPOP timeout; default 1 s
	Backoff   time.Duration // pause after a failed put; default 1 s
	Logger    *slog.Logger
}

// Watcher moves recover-list entries into the main tube.
type Watcher struct {
	cfg   Config
	redis rueidis.Client
	pool  *connpool.Pool
	data  DataLog
	log   *slog.Logger
}

// New returns a Watcher; Run starts it.
func New(cfg Config, redis rueidis.Client, pool *connpool.Pool, data DataLog) *Watcher {
	if cfg.ScanEvery <= 0 {
		cfg.ScanEvery = 2 * time.Second
	}
	if cfg.Wait <= 0 {
		cfg.Wait = time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Watcher{cfg: cfg, redis: redis, pool: pool, data: data, log: cfg.Logger}
}

// Run drains the lists until ctx ends. Redis or beanstalkd being down only
// pauses it.
func (w *Watcher) Run(ctx context.Context) {
	var lists []string
	var scanned time.Time
	for ctx.Err() == nil {
		if time.Since(scanned) >= w.cfg.ScanEvery {
			found, err := w.scan(ctx)
			if err != nil {
				w.log.Warn("recover lists: scan failed", "err", err)
				w.pause(ctx, w.cfg.Backoff)
				continue
			}
			lists, scanned = found, time.Now()
		}
		if len(lists) == 0 {
			w.pause(ctx, time.Until(scanned.Add(w.cfg.ScanEvery)))
			continue
		}
		key, raw, err := w.pop(ctx, lists)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("recover lists: pop failed", "err", err)
				w.pause(ctx, w.cfg.Backoff)
			}
			continue
		}
		if raw != nil && !w.move(ctx, key, raw) {
			w.pause(ctx, w.cfg.Backoff)
		}
	}
}

func (w *Watcher) pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// scan returns the recover lists that exist now, sorted.
func (w *Watcher) scan(ctx context.Context) ([]string, error) {
	return scanLists(ctx, w.redis, w.cfg.Prefix)
}

func scanLists(ctx context.Context, c rueidis.Client, prefix string) ([]string, error) {
	var keys []string
	cursor := uint64(0)
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Type("list").Build()).AsScanEntry()
		if err != nil {
			return nil, fmt.Errorf("scan %s*: %w", prefix, err)
		}
		keys = append(keys, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// ListStatus is one recover list and the entries waiting in it.
type ListStatus struct {
	Key    string `json:"key"`
	Length int64  `json:"length"`
}

// Status lists the recover lists under prefix with their lengths (SCAN,
// then one pipelined LLEN per list), for the admin API and the
// recover-list gauge. A list emptied meanwhile shows length 0.
func Status(ctx context.Context, c rueidis.Client, prefix string) ([]ListStatus, error) {
	keys, err := scanLists(ctx, c, prefix)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = c.B().Llen().Key(k).Build()
	}
	out := make([]ListStatus, len(keys))
	for i, r := range c.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, fmt.Errorf("llen %s: %w", keys[i], err)
		}
		out[i] = ListStatus{Key: keys[i], Length: n}
	}
	return out, nil
}

// pop takes one entry from any of lists, waiting up to Wait; raw is nil
// when none came.
func (w *Watcher) pop(ctx context.Context, lists []string) (key string, raw []byte, err error) {
	kv, err := w.redis.Do(ctx, w.redis.B().Brpop().Key(lists...).Timeout(w.cfg.Wait.Seconds()).Build()).AsStrSlice()
	if rueidis.IsRedisNil(err) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("brpop %d lists: %w", len(lists), err)
	}
	if len(kv) != 2 {
		return "", nil, fmt.Errorf("brpop: unexpected answer of %d elements", len(kv))
	}
	return kv[0], []byte(kv[1]), nil
}

// move puts one entry into the main tube; it reports false when the put
// failed for a reason that may pass (the entry went back to its list).
func (w *Watcher) move(ctx context.Context, key string, raw []byte) bool {
	if len(raw) == 0 || !isMap(raw[0]) {
		_ = w.data.RecovFailAssert(raw, "recover-list entry is not a msgpack map (list "+key+")")
		return true
	}
	var m message.Message
	if err := message.Decode(raw, &m); err != nil {
		_ = w.data.RecovFailDecode(raw, fmt.Sprintf("list %s: %v", key, err))
		return true
	}
	pri := m.Priority
	if pri == 0 {
		pri = 1024
	}
	_, err := w.pool.Put(ctx, -1, w.cfg.MainTube, raw, pri, time.Duration(m.Delay)*time.Second, time.Minute)
	switch {
	case err == nil:
		return true
	case errors.Is(err, connpool.ErrJobTooBig):
		w.log.Error("recover-list entry too big for beanstalkd: set aside in the DATA log", "list", key, "bytes", len(raw))
		_ = w.data.Write(TooBig, []datalog.Field{{Key: "list", Value: key}, {Key: "reason", Value: err.Error()}}, raw)
		return true
	}
	w.log.Warn("recover-list entry not put: pushed back", "list", key, "err", err)
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if perr := w.redis.Do(bctx, w.redis.B().Rpush().Key(key).Element(string(raw)).Build()).Error(); perr != nil {
		_ = w.data.RecovFailBack(raw, fmt.Sprintf("put: %v; push back to %s: %v", err, key, perr))
	}
	return false
}

// isMap reports whether b starts a msgpack map (fixmap, map16, map32).
func isMap(b byte) bool { return b&0xf0 == 0x80 || b == 0xde || b == 0xdf }
