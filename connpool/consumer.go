package connpool

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/internal/wire"
)

// releasePri is the priority of jobs released unseen while a consumer
// closes (the real one is unknown; producers use wire.Priority).
const releasePri = wire.Priority

// wakeTubePrefix names the private tubes that end long polls: each reserve
// link watches "<prefix>.<consumer id>.<link>" for its whole life.
const wakeTubePrefix = "medispatcher-wake"

// wakeBody marks a wake job. 0xc1 is never used in msgpack, so no job of a
// producer or of the engine starts with it.
var wakeBody = []byte("\xc1wake")

// Consumer reserves from a changing set of tubes on every server.
type Consumer struct {
	p     *Pool
	name  string
	cfg   ConsumerConfig
	h     Handler
	links []*link
	wg    sync.WaitGroup

	// mu orders Watch, Ignore and (re)connections; lock order c.mu → link.mu.
	mu    sync.Mutex
	tubes map[string]struct{}

	closing   atomic.Bool
	handed    atomic.Int64  // jobs handed to h and not yet ended
	ops       atomic.Int64  // job operations sent, not yet answered
	quiet     chan struct{} // cap 1: handed and ops may have reached 0
	stop      chan struct{} // ends the TTR guard
	closeOnce sync.Once
	id        string // random, names the links' wake tubes
}

// NewConsumer starts cfg.Links reserve links per server. It watches no
// tube until Watch is called.
func (p *Pool) NewConsumer(name string, cfg ConsumerConfig, h Handler) *Consumer {
	c := &Consumer{
		p:     p,
		name:  name,
		cfg:   cfg.withDefaults(p.cfg),
		h:     h,
		tubes: make(map[string]struct{}),
		quiet: make(chan struct{}, 1),
		stop:  make(chan struct{}),
		id:    randomID(),
	}
	if c.cfg.OnError == nil {
		log := p.cfg.Logger.With("consumer", name)
		c.cfg.OnError = func(j *Job, op string, err error) {
			log.Warn("job operation failed", "job", j.ID, "server", p.addr(j.Server), "op", op, "err", err)
		}
	}
	for s := range p.servers {
		for range c.cfg.Links {
			c.links = append(c.links, newLink(p, c, s, name))
		}
	}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		c.closing.Store(true)
		c.closeOnce.Do(func() { close(c.stop) })
		return c
	}
	p.consumers[c] = struct{}{}
	p.mu.Unlock()
	for _, l := range c.links {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			l.run()
		}()
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.ttrGuard()
	}()
	return c
}

// Watch makes every link of the consumer reserve from tube too
// (idempotent; survives reconnects). It costs one command per link, however
// many tubes are watched.
func (c *Consumer) Watch(tube string) {
	if err := checkTube(tube); err != nil {
		c.p.cfg.Logger.Error("watch refused", "consumer", c.name, "tube", tube, "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.tubes[tube]; ok {
		return
	}
	c.tubes[tube] = struct{}{}
	slot := c.slotOf(tube)
	for _, l := range c.links {
		if slot >= 0 && l.slot != slot {
			continue
		}
		l.mu.Lock()
		l.nwant++
		if l.conn != nil {
			now := l.p.now()
			if l.nwant == 1 {
				// From nothing to something: start with a non-blocking
				// reserve, more once it finds a job.
				l.idle, l.window = false, 1
			}
			l.watchLocked(tube, now)
			l.scheduleLocked(now)
		}
		l.mu.Unlock()
	}
}

// slotOf returns the link slot that watches tube, or -1 when every link
// watches every tube (no sharding).
func (c *Consumer) slotOf(tube string) int {
	if !c.cfg.Shard {
		return -1
	}
	h := uint32(2166136261) // FNV-1a, inline: no allocation per call
	for i := 0; i < len(tube); i++ {
		h = (h ^ uint32(tube[i])) * 16777619
	}
	return int(h % uint32(c.cfg.Links))
}

// Ignore stops reserving from tube (idempotent). Reserves already sent may
// still deliver a few of its jobs.
func (c *Consumer) Ignore(tube string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.tubes[tube]; !ok {
		return
	}
	delete(c.tubes, tube)
	slot := c.slotOf(tube)
	for _, l := range c.links {
		if slot >= 0 && l.slot != slot {
			continue
		}
		l.mu.Lock()
		l.nwant--
		if l.conn != nil {
			l.ignoreLocked(tube, l.p.now())
		}
		l.mu.Unlock()
	}
}

func (l *link) watchLocked(t string, now int64) {
	if _, ok := l.srvWatch[t]; ok {
		return
	}
	w := l.p.getReq()
	w.op, w.async, w.name = opWatch, true, t
	l.wbuf = appendWord(l.wbuf, "watch", t)
	l.push(w, now)
	l.srvWatch[t] = struct{}{}
}

func (l *link) ignoreLocked(t string, now int64) {
	if _, ok := l.srvWatch[t]; !ok {
		return
	}
	ig := l.p.getReq()
	ig.op, ig.async, ig.name = opIgnore, true, t
	l.wbuf = appendWord(l.wbuf, "ignore", t)
	l.push(ig, now)
	delete(l.srvWatch, t)
}

// reconcileLocked brings a fresh connection's watch list to the consumer's
// set and starts reserving. The wake tube is always watched besides (it is
// not in srvWatch), so every other tube can be ignored; with an empty set
// the link sends no reserve. Caller holds c.mu and l.mu.
func (l *link) reconcileLocked(now int64) {
	want := l.c.tubes
	l.nwant = 0
	for t := range want {
		if s := l.c.slotOf(t); s < 0 || s == l.slot {
			l.watchLocked(t, now)
			l.nwant++
		}
	}
	for t := range l.srvWatch {
		if s := l.c.slotOf(t); s >= 0 && s != l.slot {
			l.ignoreLocked(t, now)
		} else if _, ok := want[t]; !ok {
			l.ignoreLocked(t, now)
		}
	}
	l.scheduleLocked(now)
}

// scheduleLocked issues reserves: non-blocking ones while jobs flow; once
// the tubes looked empty, a single blocking one (a long poll).
//
// The non-blocking reserves pipelined are l.window, which starts at 1 when
// jobs start flowing, grows by one for each reserve that finds a job (so
// it doubles every round trip while they all do) up to Batch, and is back
// to 1 when one finds none.
//
// A poll answered with a job is followed by one non-blocking reserve, a
// probe of whether jobs flow. When jobs come one at a time (a producer or
// a server slower than the daemon) the probe finds nothing and costs a
// reserve per job, so a probe that finds nothing skips the probes of the
// next polls answered with a job, 1, 2, 4... up to maxProbeSkip of them;
// a probe that finds a job ends the skipping. Such a link sends about one
// reserve per job, the poll that waits for it.
func (l *link) scheduleLocked(now int64) {
	if l.conn == nil || l.blocking || l.nwant == 0 || l.c.closing.Load() {
		return
	}
	if l.idle {
		if l.nbRes == 0 {
			r := l.p.getReq()
			r.op, r.async, r.blocking = opReserve, true, true
			l.wbuf = appendID(l.wbuf, "reserve-with-timeout", seconds(l.c.cfg.IdleWait))
			l.push(r, now)
			l.blocking = true
		}
		return
	}
	for l.nbRes < min(l.window, l.c.cfg.Batch) {
		r := l.p.getReq()
		r.op, r.async = opReserve, true
		l.wbuf = append(l.wbuf, "reserve-with-timeout 0\r\n"...)
		l.push(r, now)
		l.nbRes++
	}
}

// reservedLocked takes a job answered to reserve request r into j.
func (l *link) reservedLocked(r *request, j *Job, id uint64, body []byte, now int64) *Job {
	if r.blocking {
		l.pollEndedLocked()
	} else {
		l.nbRes--
	}
	if bytes.Equal(body, wakeBody) {
		// Our own wake job: delete it here, hand nothing out. It says
		// nothing about the watched tubes, so the ended long poll is
		// simply renewed: the commands it held back go first, and a job
		// ready meanwhile ends the new poll at once.
		d := l.p.getReq()
		d.op, d.async = opDelete, true
		l.wbuf = appendID(l.wbuf, "delete", id)
		l.push(d, now)
		l.scheduleLocked(now)
		return nil
	}
	if r.blocking {
		if l.skip > 0 {
			l.skip-- // a trickle: poll again (below), no probe
		} else {
			l.idle, l.window, l.hits = false, 1, 0 // probe: do jobs flow?
		}
	} else {
		l.hits++
		l.window = min(l.window+1, l.c.cfg.Batch)
	}
	j.ID, j.Server, j.Body, j.link, j.gen, j.touched = id, l.server, body, l, l.gen, now
	if l.c.closing.Load() {
		// Reserved after Close began: give it back at once.
		j.ended.Store(true)
		l.jobOpLocked(j, opRelease, releasePri, 0, now)
		return nil
	}
	l.held[id] = j
	l.c.handed.Add(1)
	l.scheduleLocked(now)
	return j
}

// maxProbeSkip bounds the polls answered with a job between two probes
// of a trickling link (see scheduleLocked): a backlog that builds up
// meanwhile waits that many round trips at most before the link pipelines
// again.
const maxProbeSkip = 16

// reserveEmptyLocked handles TIMED_OUT and DEADLINE_SOON.
func (l *link) reserveEmptyLocked(r *request, deadlineSoon bool, now int64) {
	if r.blocking {
		l.pollEndedLocked()
	} else {
		l.nbRes--
	}
	if deadlineSoon {
		// A held job is about to time out: touch everything held; the
		// touches reach the server before the next reserve.
		for _, j := range l.held {
			j.touched = now
			l.jobOpLocked(j, opTouch, 0, 0, now)
		}
	} else {
		if !r.blocking && !l.idle {
			// The flow ended. If its probe found nothing, jobs trickle:
			// skip the next probes, twice as many as the last time.
			if l.hits == 0 {
				l.backoff = min(max(1, 2*l.backoff), maxProbeSkip)
			} else {
				l.backoff = 0
			}
			l.skip = l.backoff
		}
		l.idle, l.window = true, 1
	}
	l.scheduleLocked(now)
}

// jobOpLocked sends a job operation; its answer goes to jobOpDone.
func (l *link) jobOpLocked(j *Job, o op, pri uint32, delay uint64, now int64) {
	r := l.p.getReq()
	r.op, r.async, r.job = o, true, j
	switch o {
	case opDelete:
		l.wbuf = appendID(l.wbuf, "delete", j.ID)
	case opTouch:
		l.wbuf = appendID(l.wbuf, "touch", j.ID)
	case opRelease:
		l.wbuf = appendRelease(l.wbuf, j.ID, pri, delay)
	case opBury:
		l.wbuf = appendBury(l.wbuf, j.ID, pri)
	}
	l.c.ops.Add(1)
	l.push(r, now)
}

// wake ends the long poll of a link by putting a job into its wake tube.
// A failure is harmless: the poll ends by itself within IdleWait. The put
// needs no context of its own: the command link's read deadline (OpTimeout)
// already bounds it, and a wake may come once per message when the tubes
// run dry between jobs, so it allocates no context and timer.
func (c *Consumer) wake(server int, tube string) {
	// That server only: a wake job elsewhere would wake nobody.
	if l := c.p.servers[server].pick(); l != nil {
		_, _ = l.put(context.Background(), tube, wakeBody, 0, 0, ttrSeconds(time.Minute))
	}
}

// SweepOrphanWakeTubes deletes the jobs left in wake tubes that no
// connection watches any more (a consumer of a process that crashed left at
// most one job per link), so that those tubes disappear: beanstalkd's cost
// per job grows with the number of tubes. Best effort; it returns how many
// jobs it deleted.
func (p *Pool) SweepOrphanWakeTubes(ctx context.Context) int {
	deleted := 0
	for si := range p.servers {
		tubes, err := p.ListTubes(ctx, si)
		if err != nil {
			continue
		}
		for _, t := range tubes {
			if !strings.HasPrefix(t, wakeTubePrefix+".") {
				continue
			}
			st, err := p.StatsTube(ctx, si, t)
			if err != nil || st.Watching > 0 {
				continue
			}
			for i := 0; i < 16 && ctx.Err() == nil; i++ {
				id, _, err := p.Peek(ctx, si, t, "ready")
				if err != nil || p.Delete(ctx, si, id) != nil {
					break
				}
				deleted++
			}
		}
	}
	return deleted
}

// sweepWake deletes wake jobs left in the links' wake tubes (a wake put
// whose long poll ended by itself), so that no tube keeps them after the
// consumer is gone. Best effort, bounded by ctx.
func (c *Consumer) sweepWake(ctx context.Context) {
	for _, l := range c.links {
		for i := 0; i < 4 && ctx.Err() == nil; i++ {
			id, _, err := c.p.Peek(ctx, l.server, l.wakeTube, "ready")
			if err != nil {
				break
			}
			_ = c.p.Delete(ctx, l.server, id)
		}
	}
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *Consumer) jobOpDone(j *Job, o op, err error) {
	if err != nil {
		c.cfg.OnError(j, o.String(), err)
	}
	c.ops.Add(-1)
	c.signalQuiet()
}

func (c *Consumer) signalQuiet() {
	if c.closing.Load() {
		select {
		case c.quiet <- struct{}{}:
		default:
		}
	}
}

// end sends the operation that ends a job through the link that reserved it.
func (j *Job) end(o op, pri uint32, delay uint64) {
	l := j.link
	if l == nil || !j.ended.CompareAndSwap(false, true) {
		return
	}
	c := l.c
	l.mu.Lock()
	if l.conn == nil || l.gen != j.gen {
		l.mu.Unlock()
		c.cfg.OnError(j, o.String(), ErrLinkLost)
	} else {
		delete(l.held, j.ID)
		l.jobOpLocked(j, o, pri, delay, l.p.now())
		l.mu.Unlock()
	}
	// After jobOpLocked counted the operation, so Close never sees a gap.
	c.handed.Add(-1)
	c.signalQuiet()
}

// Delete deletes the job through the link that reserved it; asynchronous,
// failures go to ConsumerConfig.OnError.
func (j *Job) Delete() { j.end(opDelete, 0, 0) }

// Release puts the job back to ready (or delayed) through its link.
func (j *Job) Release(pri uint32, delay time.Duration) { j.end(opRelease, pri, seconds(delay)) }

// Bury buries the job through its link.
func (j *Job) Bury(pri uint32) { j.end(opBury, pri, 0) }

// Touch renews the job's TTR through its link.
func (j *Job) Touch() {
	l := j.link
	if l == nil || j.ended.Load() {
		return
	}
	l.mu.Lock()
	if l.conn == nil || l.gen != j.gen {
		l.mu.Unlock()
		l.c.cfg.OnError(j, opTouch.String(), ErrLinkLost)
		return
	}
	now := l.p.now()
	j.touched = now
	l.jobOpLocked(j, opTouch, 0, 0, now)
	l.mu.Unlock()
}

// ttrGuard touches jobs held longer than TTR/2, checking every TTR/4, so
// that a slow push never lets the server hand the job to someone else.
func (c *Consumer) ttrGuard() {
	t := time.NewTicker(c.cfg.TTR / 4)
	defer t.Stop()
	half := int64(c.cfg.TTR / 2)
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		for _, l := range c.links {
			l.mu.Lock()
			if l.conn != nil {
				now := l.p.now()
				for _, j := range l.held {
					if now-j.touched >= half {
						j.touched = now
						l.jobOpLocked(j, opTouch, 0, 0, now)
					}
				}
			}
			l.mu.Unlock()
		}
	}
}

// Close stops reserving, lets the holders of handed-out jobs Delete,
// Release or Bury them until ctx is done, then closes the links (the
// server returns still-reserved jobs to ready).
func (c *Consumer) Close(ctx context.Context) error {
	c.closing.Store(true)
	var err error
	for c.handed.Load() != 0 || c.ops.Load() != 0 {
		select {
		case <-c.quiet:
		case <-ctx.Done():
			err = fmt.Errorf("close consumer %s: %d jobs held, %d operations unanswered: %w",
				c.name, c.handed.Load(), c.ops.Load(), ctx.Err())
		}
		if err != nil {
			break
		}
	}
	c.closeLinks()
	sctx, cancel := context.WithTimeout(context.Background(), c.p.cfg.OpTimeout)
	c.sweepWake(sctx)
	cancel()
	return err
}

// closeLinks stops the links and the TTR guard and waits for them.
func (c *Consumer) closeLinks() {
	c.closing.Store(true)
	c.closeOnce.Do(func() {
		close(c.stop)
		for _, l := range c.links {
			l.close()
		}
		c.wg.Wait()
		c.p.mu.Lock()
		delete(c.p.consumers, c)
		c.p.mu.Unlock()
	})
}
