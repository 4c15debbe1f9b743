package pubload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed: Put after Close.
var ErrClosed = errors.New("publish: batch putter closed")

// Batch is a loadgen.Putter that gathers the jobs of concurrent Puts into
// requests of up to Size messages (POST /api/v1/messages/batch), Senders
// of them in flight at once. A Put returns when the request carrying its
// message was answered, with that message's own result: the load
// generator's producer counts a message as sent only once the API took
// it. A request is sent when it is full or Linger after its first
// message, so the last messages of a schedule are not held back.
type Batch struct {
	Stats
	c      *Client
	size   int
	linger time.Duration

	in      chan *pending
	batches chan []*pending
	done    sync.WaitGroup

	mu     sync.RWMutex
	closed bool
	free   sync.Pool // *pending
}

// pending is one Put waiting for its batch's answer.
type pending struct {
	msg    []byte
	result chan error
}

// NewBatch starts a batch putter over c: requests of up to size messages,
// senders of them in flight at once.
func NewBatch(c *Client, size, senders int, linger time.Duration) *Batch {
	p := &Batch{c: c, size: max(size, 1), linger: max(linger, time.Millisecond),
		in: make(chan *pending, size*senders), batches: make(chan []*pending, senders)}
	p.done.Add(1 + senders)
	go p.collect()
	for range senders {
		go p.send()
	}
	return p
}

// Put implements loadgen.Putter.
func (p *Batch) Put(ctx context.Context, _ int, _ string, job []byte) error {
	w, _ := p.free.Get().(*pending)
	if w == nil {
		w = &pending{result: make(chan error, 1)}
	}
	var err error
	if w.msg, _, err = AppendMessage(w.msg[:0], job); err != nil {
		p.note(nil, err)
		p.free.Put(w)
		return err
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		p.free.Put(w)
		return ErrClosed
	}
	p.in <- w
	p.mu.RUnlock()
	select {
	case err := <-w.result:
		// The sender is done with w once it sent the result.
		p.free.Put(w)
		return err
	case <-ctx.Done():
		// The request may still land: the ledger tolerates a delivery
		// of a message whose put it counts as failed.
		return fmt.Errorf("publish: batch: %w", ctx.Err())
	}
}

// collect cuts the queue of pending messages into batches.
func (p *Batch) collect() {
	defer p.done.Done()
	defer close(p.batches)
	var cur []*pending
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	flush := func() {
		if len(cur) > 0 {
			p.batches <- cur
			cur = nil
		}
		linger.Stop()
	}
	for {
		select {
		case w, ok := <-p.in:
			if !ok {
				flush()
				return
			}
			cur = append(cur, w)
			if len(cur) == 1 {
				linger.Reset(p.linger)
			}
			if len(cur) >= p.size {
				flush()
			}
		case <-linger.C:
			flush()
		}
	}
}

// send posts batches until there are none left.
func (p *Batch) send() {
	defer p.done.Done()
	var body []byte
	for b := range p.batches {
		body = append(body[:0], `{"messages":[`...)
		for i, w := range b {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, w.msg...)
		}
		body = append(body, "]}"...)
		answers, err := p.c.PublishBatch(body, len(b))
		for i, w := range b {
			e := err
			if e == nil {
				e = answers[i].Check()
				p.note(&answers[i], e)
			} else {
				p.note(nil, e)
			}
			w.result <- e
		}
	}
}

// Close sends what is pending, waits for the answers and closes the
// client's idle connections.
func (p *Batch) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.in)
	}
	p.mu.Unlock()
	p.done.Wait()
	p.c.Close()
	return nil
}
