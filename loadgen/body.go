package loadgen

import (
	"github.com/tinylib/msgp/msgp"

	"medispatcher/engine/dispatch/message"
)

// Encoder builds main-tube jobs: the producers' wire format (a msgpack map, message.AppendMainJob) with
// a body the farm can read back, {"pad", "seq", "topic", "ts"}. One Encoder
// per goroutine; it reuses its buffers.
type Encoder struct {
	pad    []byte
	body   []byte
	job    []byte
	sender []byte
	m      message.Message
}

// NewEncoder returns an encoder whose jobs are about size bytes long.
func NewEncoder(size int) *Encoder {
	e := &Encoder{sender: []byte("loadgen")}
	// Measure a job with no padding, then pad to size. Numbers are encoded
	// at their widest so the padding does not change as seq grows.
	probe := e.Encode("lg.t0001", 1<<40, 1<<62, 9999)
	if n := size - len(probe) - 3; n > 0 { // 3: str16 header of the padding
		e.pad = make([]byte, n)
		for i := range e.pad {
			e.pad[i] = 'x'
		}
	}
	return e
}

// Encode returns the job for message seq of topic (index ti) scheduled at
// ts (unix ns; 0 marks a probe). The result is valid until the next call.
func (e *Encoder) Encode(topic string, seq uint64, ts int64, ti int) []byte {
	b := msgp.AppendMapHeader(e.body[:0], 4)
	b = msgp.AppendString(b, "pad")
	b = msgp.AppendStringFromBytes(b, e.pad)
	b = msgp.AppendString(b, "seq")
	b = msgp.AppendUint64(b, seq)
	b = msgp.AppendString(b, "topic")
	b = msgp.AppendInt(b, ti)
	b = msgp.AppendString(b, "ts")
	b = msgp.AppendInt64(b, ts)
	e.body = b

	e.m.Topic = append(e.m.Topic[:0], topic...)
	e.m.Body = e.body
	e.m.Sender = e.sender
	e.m.Time = float64(ts) / 1e9
	if ts == 0 {
		e.m.Time = 0
	}
	e.job = message.AppendMainJob(e.job[:0], &e.m)
	return e.job
}
