// Package recoverlist drains the recover lists: Redis lists (names starting
// with MsgQueueFaultToleranceListNamePrefix) that producers push a job to
// when they cannot reach beanstalkd. Each entry goes into the main tube
// with the priority and delay its message names (wire.Priority if none).
//
// # No loss window
//
// An entry never leaves Redis before beanstalkd has it. It is moved
// atomically (LMOVE/BLMOVE, the right end of the recover list, where the
// producers' LPUSH makes the oldest entry, to the left end) into the
// list's processing list, put into the main tube, and only then removed
// from the processing list (LREM). The processing list of recover list L
// is named ProcessingList(L) = "{L}:processing": it does not start with the
// prefix, so SCAN never takes it for a recover list, and its hash tag is
// the whole of L, so both are in the same Redis Cluster slot (LMOVE and
// the push-back script need that). A recover-list name holding "}" breaks
// that rule: on a cluster its moves fail (logged) and its entries wait.
//
//   - A put that fails moves the entry back to the right end of its recover
//     list (one Lua script: LREM from the processing list, then RPUSH only
//     if it was there), so it is tried first next time; the watcher pauses.
//   - A shutdown (ctx ends) cancels the put in flight and moves that entry
//     back the same way; an entry whose final Redis step fails (Redis gone)
//     stays in the processing list and is settled (LREM or pushed back)
//     once Redis answers again, without putting it a second time.
//   - A crash leaves the entry in the processing list. Processing lists are
//     found with SCAN "{<prefix>*}:processing" and taken up: at start every
//     entry found, and every TakeUpEvery those seen by the previous pass
//     too (an entry in hand stays there for one put, seconds at most).
//
// Delivery is at least once, never at most once: a put that reached
// beanstalkd before a crash (or before its answer was lost) is put again
// when its entry is taken up. In a fleet, daemons share the recover lists
// and their processing lists: a daemon that starts takes up the entries
// the others hold at that moment too (at most one per daemon and list),
// and a daemon stopped (SIGSTOP) for longer than TakeUpEvery has its entry
// in hand put by another; either gives a duplicate, never a loss. Every
// removal from a processing list follows a successful put of the same
// bytes or re-adds them to the recover list, so no entry is dropped.
//
// Entries that do not decode (RECOVFAILDECODE) or are not a job map
// (RECOVFAILASSERT), and jobs beanstalkd refuses as too big (RECOVTOOBIG),
// are written to the DATA log and removed from the processing list only
// when the line was accepted (the call returned nil); otherwise they stay
// there and are taken up again. RECOVFAILBACK is no longer written: an
// entry is never out of Redis while the watcher holds it, so there is no
// "could not push back" copy to keep (old lines are still replayed).
//
// Lists are found with SCAN (never KEYS), at start and every ScanEvery.
// Each pass moves one entry from every known list in turn; when none had
// one, the watcher blocks on one of them (BLMOVE, in rotation) for up to
// Wait, so an entry of the list waited on is taken the moment it is pushed
// and one of another list within Wait.
package recoverlist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/datalog"
	"medispatcher/internal/wire"
)

// DataLog receives the entries that cannot go into a queue.
type DataLog interface {
	RecovFailDecode(raw []byte, reason string) error
	RecovFailAssert(raw []byte, reason string) error
	Write(cat datalog.Category, fields []datalog.Field, raw []byte) error
}

// TooBig is the DATA log category of entries beanstalkd refused as too big.
const TooBig datalog.Category = "RECOVTOOBIG"

// processingSuffix ends every processing-list name.
const processingSuffix = "}:processing"

// ProcessingList returns the name of the processing list of recover list
// src: "{src}:processing" (same cluster slot, never matched by the prefix).
func ProcessingList(src string) string { return "{" + src + processingSuffix }

// sourceOf returns the recover list whose processing list is name, when
// name is one under prefix.
func sourceOf(name, prefix string) (string, bool) {
	if !strings.HasPrefix(name, "{") || !strings.HasSuffix(name, processingSuffix) {
		return "", false
	}
	src := name[1 : len(name)-len(processingSuffix)]
	return src, strings.HasPrefix(src, prefix)
}

// Config of a Watcher.
type Config struct {
	Prefix    string        // MsgQueueFaultToleranceListNamePrefix
	MainTube  string        // NameOfMainQueue
	ScanEvery time.Duration // how often lists are looked for; default 2 s
	Wait      time.Duration // BLMOVE timeout; default 1 s
	Backoff   time.Duration // pause after a failed put or Redis error; default 1 s
	// TakeUpEvery is how often processing lists are searched for entries
	// left by a crashed or stopped daemon (taken up when a pass finds them
	// again); default 30 s, which must stay well above a put's duration.
	TakeUpEvery time.Duration
	Logger      *slog.Logger
}

// Stats counts what a Watcher did since New.
type Stats struct {
	Put        uint64 // entries put into the main tube
	PutFailed  uint64 // puts that failed (the entry went back or stays)
	PushedBack uint64 // entries moved back to their recover list
	TakenUp    uint64 // entries taken from a processing list (crash leftovers)
	Logged     uint64 // entries written to the DATA log instead
}

// Watcher moves recover-list entries into the main tube.
type Watcher struct {
	cfg   Config
	redis rueidis.Client
	pool  *connpool.Pool
	data  DataLog
	log   *slog.Logger

	// owed are Redis steps that failed for entries this watcher handled;
	// they are retried, in order, before anything else.
	owed []owed
	// seen counts the entries of each processing list that the last
	// take-up pass left there (by content).
	seen map[string]map[string]int

	put, putFailed, pushedBack, takenUp, logged atomic.Uint64
}

// owed is a Redis step still to do for one entry of a processing list:
// remove it (its put succeeded or it was logged) or move it back.
type owed struct {
	back      bool
	src, proc string
	raw       string
	count     int64 // LREM count: 1 from the left, -1 from the right
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
	if cfg.TakeUpEvery <= 0 {
		cfg.TakeUpEvery = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Watcher{cfg: cfg, redis: redis, pool: pool, data: data, log: cfg.Logger}
}

// Stats returns the counters of w.
func (w *Watcher) Stats() Stats {
	return Stats{Put: w.put.Load(), PutFailed: w.putFailed.Load(), PushedBack: w.pushedBack.Load(),
		TakenUp: w.takenUp.Load(), Logged: w.logged.Load()}
}

// Run drains the lists until ctx ends. Redis or beanstalkd being down only
// pauses it. It returns once the entry in hand is put or back in Redis
// (or, with Redis gone, left in its processing list), after the move in
// progress, if any, has answered: a blocking one within Wait.
func (w *Watcher) Run(ctx context.Context) {
	var lists []string
	var scanned, tookUp time.Time
	all := true // the first take-up pass takes every entry it finds
	next := 0
	for ctx.Err() == nil {
		if len(w.owed) > 0 && !w.settle() {
			w.pause(ctx, w.cfg.Backoff)
			continue
		}
		if time.Since(tookUp) >= w.cfg.TakeUpEvery {
			if err := w.takeUp(ctx, all); err != nil {
				if ctx.Err() == nil {
					if !errors.Is(err, errPutFailed) {
						w.log.Warn("recover lists: take-up of processing lists failed", "err", err)
					}
					w.pause(ctx, w.cfg.Backoff)
				}
				continue
			}
			all, tookUp = false, time.Now()
		}
		if time.Since(scanned) >= w.cfg.ScanEvery {
			found, err := w.scan(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("recover lists: scan failed", "err", err)
					w.pause(ctx, w.cfg.Backoff)
				}
				continue
			}
			lists, scanned = found, time.Now()
		}
		if len(lists) == 0 {
			w.pause(ctx, min(time.Until(scanned.Add(w.cfg.ScanEvery)), time.Until(tookUp.Add(w.cfg.TakeUpEvery))))
			continue
		}
		moved, err := w.sweep(ctx, lists)
		if err == nil && moved == 0 {
			next++
			err = w.wait(ctx, lists[next%len(lists)])
		}
		if err != nil && ctx.Err() == nil {
			if !errors.Is(err, errPutFailed) { // handle logged it
				w.log.Warn("recover lists: move failed", "err", err)
			}
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

// errPutFailed stops a pass after a failed put: beanstalkd is likely down.
var errPutFailed = errors.New("put into the main tube failed")

// sweep moves and handles one entry of each list; it returns how many it
// moved.
func (w *Watcher) sweep(ctx context.Context, lists []string) (int, error) {
	moved := 0
	for _, src := range lists {
		if ctx.Err() != nil {
			return moved, nil
		}
		proc := ProcessingList(src)
		mctx, cancel := moveCtx(ctx, settleTimeout)
		raw, err := w.redis.Do(mctx, w.redis.B().Lmove().Source(src).Destination(proc).Right().Left().Build()).ToString()
		cancel()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return moved, fmt.Errorf("lmove %s: %w", src, err)
		}
		moved++
		if !w.handle(ctx, src, proc, raw, 1) {
			return moved, errPutFailed
		}
	}
	return moved, nil
}

// wait blocks up to Wait for an entry of src and handles it. A shutdown
// waits for the move too (see moveCtx): at most Wait.
func (w *Watcher) wait(ctx context.Context, src string) error {
	proc := ProcessingList(src)
	mctx, cancel := moveCtx(ctx, w.cfg.Wait+settleTimeout)
	raw, err := w.redis.Do(mctx, w.redis.B().Blmove().Source(src).Destination(proc).Right().Left().
		Timeout(w.cfg.Wait.Seconds()).Build()).ToString()
	cancel()
	if rueidis.IsRedisNil(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blmove %s: %w", src, err)
	}
	if !w.handle(ctx, src, proc, raw, 1) {
		return errPutFailed
	}
	return nil
}

// moveCtx bounds a move from a recover list into its processing list by
// d. The end of ctx does not cut it short: once the command is sent,
// Redis may make the move, and only its answer tells which entry is then
// held, to be put or moved back (handle does either, at once if ctx has
// ended). A move cut short could leave an entry in the processing list
// until a take-up pass, a daemon's next start or a peer's.
func moveCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// handle puts one entry held in proc (count says from which end LREM
// looks: 1 the left, where moves put it, -1 the right) and removes it from
// proc; it reports false when the put failed (the entry went back to src).
func (w *Watcher) handle(ctx context.Context, src, proc, raw string, count int64) bool {
	b := []byte(raw)
	pri, delay, cat, err := decodeEntry(b)
	if err != nil {
		reason := fmt.Sprintf("list %s: %v", src, err)
		var lerr error
		if cat == datalog.RecovFailAssert {
			lerr = w.data.RecovFailAssert(b, reason)
		} else {
			lerr = w.data.RecovFailDecode(b, reason)
		}
		if lerr != nil {
			w.log.Error("recover-list entry not decodable and not logged: kept in its processing list",
				"list", src, "err", lerr)
			return true
		}
		w.logged.Add(1)
		w.remove(proc, raw, count)
		return true
	}
	_, err = w.pool.Put(ctx, -1, w.cfg.MainTube, b, pri, delay, time.Minute)
	switch {
	case err == nil:
		w.put.Add(1)
		w.remove(proc, raw, count)
		return true
	case errors.Is(err, connpool.ErrJobTooBig):
		w.log.Error("recover-list entry too big for beanstalkd: set aside in the DATA log", "list", src, "bytes", len(raw))
		if lerr := w.data.Write(TooBig, []datalog.Field{{Key: "list", Value: src}, {Key: "reason", Value: err.Error()}}, b); lerr != nil {
			w.log.Error("recover-list entry too big and not logged: kept in its processing list", "list", src, "err", lerr)
			return true
		}
		w.logged.Add(1)
		w.remove(proc, raw, count)
		return true
	}
	w.putFailed.Add(1)
	if ctx.Err() == nil {
		w.log.Warn("recover-list entry not put: moved back to its list", "list", src, "err", err)
	}
	w.pushBack(src, proc, raw, count)
	return false
}

// settleTimeout bounds the Redis step that ends an entry's handling; it
// does not depend on the Run context, so a shutdown still does it.
const settleTimeout = 5 * time.Second

// remove deletes one copy of raw from proc after its put (or DATA line).
func (w *Watcher) remove(proc, raw string, count int64) {
	o := owed{proc: proc, raw: raw, count: count}
	if err := w.do(o); err != nil {
		w.log.Warn("recover list: entry put but not removed from its processing list; retried when Redis answers",
			"list", proc, "err", err)
		w.owed = append(w.owed, o)
	}
}

// pushBack moves raw from proc back to the right end of src.
func (w *Watcher) pushBack(src, proc, raw string, count int64) {
	o := owed{back: true, src: src, proc: proc, raw: raw, count: count}
	if err := w.do(o); err != nil {
		w.log.Warn("recover list: entry not put and not moved back; it stays in its processing list",
			"list", proc, "err", err)
		w.owed = append(w.owed, o)
	}
}

// pushBackScript moves one copy of ARGV[1] from KEYS[1] (a processing
// list) to the right end of KEYS[2] (its recover list), only if it was in
// KEYS[1]: a copy another daemon took up meanwhile is not added again.
var pushBackScript = rueidis.NewLuaScript(`
if redis.call('LREM', KEYS[1], ARGV[2], ARGV[1]) > 0 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0`)

func (w *Watcher) do(o owed) error {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if !o.back {
		if err := w.redis.Do(ctx, w.redis.B().Lrem().Key(o.proc).Count(o.count).Element(o.raw).Build()).Error(); err != nil {
			return fmt.Errorf("lrem %s: %w", o.proc, err)
		}
		return nil
	}
	n, err := pushBackScript.Exec(ctx, w.redis, []string{o.proc, o.src}, []string{o.raw, strconv.FormatInt(o.count, 10)}).AsInt64()
	if err != nil {
		return fmt.Errorf("move back from %s to %s: %w", o.proc, o.src, err)
	}
	if n == 1 {
		w.pushedBack.Add(1)
	}
	return nil
}

// settle retries the owed steps in order; it reports whether all are done.
func (w *Watcher) settle() bool {
	for len(w.owed) > 0 {
		if err := w.do(w.owed[0]); err != nil {
			w.log.Warn("recover list: Redis step still failing", "list", w.owed[0].proc, "err", err)
			return false
		}
		w.owed[0] = owed{}
		w.owed = w.owed[1:]
	}
	w.owed = nil
	return true
}

// takeUpBatch bounds the entries one pass reads from a processing list.
const takeUpBatch = 100

// takeUp handles the entries found in processing lists, oldest first: all
// of them when all is set (at start), otherwise only those the previous
// pass found too (left there by a crash, not in the hands of a daemon).
func (w *Watcher) takeUp(ctx context.Context, all bool) error {
	procs, err := scanKeys(ctx, w.redis, "{"+globEscape(w.cfg.Prefix)+"*"+processingSuffix)
	if err != nil {
		return err
	}
	seen := make(map[string]map[string]int, len(procs))
	for _, proc := range procs {
		src, ok := sourceOf(proc, w.cfg.Prefix)
		if !ok {
			continue
		}
		entries, err := w.redis.Do(ctx, w.redis.B().Lrange().Key(proc).Start(-takeUpBatch).Stop(-1).Build()).AsStrSlice()
		if err != nil {
			return fmt.Errorf("lrange %s: %w", proc, err)
		}
		prev, left := w.seen[proc], map[string]int{}
		for i := len(entries) - 1; i >= 0; i-- {
			raw := entries[i]
			if !all && prev[raw] == 0 {
				left[raw]++
				continue
			}
			if !all {
				prev[raw]--
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.takenUp.Add(1)
			w.log.Info("recover list: taking up an entry left in a processing list", "list", proc)
			if !w.handle(ctx, src, proc, raw, -1) {
				return errPutFailed
			}
		}
		if len(left) > 0 {
			seen[proc] = left
		}
	}
	w.seen = seen
	return nil
}

// decodeEntry checks one recover-list entry and returns the priority and
// delay of its put. On error cat says which DATA log line it deserves:
// RecovFailAssert for an entry that is not a msgpack map, RecovFailDecode
// for one that is but is not a valid job.
func decodeEntry(raw []byte) (pri uint32, delay time.Duration, cat datalog.Category, err error) {
	if len(raw) == 0 || !isMap(raw[0]) {
		return 0, 0, datalog.RecovFailAssert, errors.New("recover-list entry is not a msgpack map")
	}
	var m message.Message
	if err := message.Decode(raw, &m); err != nil {
		return 0, 0, datalog.RecovFailDecode, err
	}
	pri = m.Priority
	if pri == 0 {
		pri = wire.Priority
	}
	return pri, time.Duration(m.Delay) * time.Second, "", nil
}

// isMap reports whether b starts a msgpack map (fixmap, map16, map32).
func isMap(b byte) bool { return b&0xf0 == 0x80 || b == 0xde || b == 0xdf }

// scan returns the recover lists that exist now, sorted.
func (w *Watcher) scan(ctx context.Context) ([]string, error) {
	return scanLists(ctx, w.redis, w.cfg.Prefix)
}

// scanLists returns the lists whose name starts with prefix, sorted,
// leaving out processing lists (which only match when prefix starts with
// "{").
func scanLists(ctx context.Context, c rueidis.Client, prefix string) ([]string, error) {
	keys, err := scanKeys(ctx, c, globEscape(prefix)+"*")
	if err != nil {
		return nil, err
	}
	out := keys[:0]
	for _, k := range keys {
		if _, proc := sourceOf(k, prefix); !proc && strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

// scanKeys returns the lists matching the SCAN pattern, sorted.
func scanKeys(ctx context.Context, c rueidis.Client, pattern string) ([]string, error) {
	var keys []string
	cursor := uint64(0)
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Type("list").Build()).AsScanEntry()
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", pattern, err)
		}
		keys = append(keys, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// globEscape quotes the characters SCAN MATCH treats as a pattern, so a
// prefix is matched literally.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ListStatus is one recover list and the entries waiting in it.
type ListStatus struct {
	Key    string `json:"key"`
	Length int64  `json:"length"`
}

// Status lists the recover lists under prefix with their lengths (SCAN,
// then one pipelined LLEN per list), for the admin API and the
// recover-list gauge. A list emptied meanwhile shows length 0. Entries in
// processing lists (in hand or left by a crash) are not counted.
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
