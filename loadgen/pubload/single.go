package pubload

import (
	"context"
	"sync"
	"time"

	"medispatcher/loadgen/farm"
)

// Single is a loadgen.Putter that publishes each job with a request of
// its own (POST /api/v1/messages). The server index and tube are not
// the API's business and are ignored: the daemon puts into its main tube.
type Single struct {
	Stats
	c    *Client
	lat  *Recorder // nil: no latencies
	bufs sync.Pool
}

// NewSingle publishes through c, recording request latencies in lat
// unless it is nil.
func NewSingle(c *Client, lat *Recorder) *Single {
	return &Single{c: c, lat: lat, bufs: sync.Pool{New: func() any { return new([]byte) }}}
}

// Put implements loadgen.Putter: it returns once the API accepted the
// message, with the API's error otherwise.
func (p *Single) Put(_ context.Context, _ int, _ string, job []byte) error {
	b := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(b)
	msg, body, err := AppendMessage((*b)[:0], job)
	*b = msg
	if err != nil {
		p.note(nil, err)
		return err
	}
	a, err := p.c.Publish(msg)
	done := time.Now()
	if err == nil {
		err = a.Check()
	}
	p.note(&a, err)
	if err == nil && p.lat != nil {
		if _, ts, ok := farm.ScanSeqTS(body); ok {
			p.lat.Record(ts, done)
		}
	}
	return err
}

// Close closes the client's idle connections.
func (p *Single) Close() error {
	p.c.Close()
	return nil
}
