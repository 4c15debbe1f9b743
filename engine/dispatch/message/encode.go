package message

import (
	"fmt"

	"math"

	"github.com/tinylib/msgp/msgp"
)

// AppendMainJob appends the main-tube encoding of m, as producers write it:
// msgKey, body, sender, time (float64), then priority, delay, context and
// owl_context only when they are set. An empty m.Body is written as nil.
// It allocates only to grow dst.
func AppendMainJob(dst []byte, m *Message) []byte {
	n := uint32(4)
	for _, set := range [...]bool{m.Priority != 0, m.Delay != 0, len(m.Context) != 0, len(m.OwlContext) != 0} {
		if set {
			n++
		}
	}
	dst = msgp.AppendMapHeader(dst, n)
	dst = msgp.AppendString(dst, "msgKey")
	dst = msgp.AppendStringFromBytes(dst, m.Topic)
	dst = msgp.AppendString(dst, "body")
	dst = appendBody(dst, m.Body)
	dst = msgp.AppendString(dst, "sender")
	dst = msgp.AppendStringFromBytes(dst, m.Sender)
	dst = msgp.AppendString(dst, "time")
	dst = msgp.AppendFloat64(dst, m.Time)
	if m.Priority != 0 {
		dst = msgp.AppendString(dst, "priority")
		dst = msgp.AppendUint32(dst, m.Priority)
	}
	if m.Delay != 0 {
		dst = msgp.AppendString(dst, "delay")
		dst = msgp.AppendUint32(dst, m.Delay)
	}
	if len(m.Context) != 0 {
		dst = msgp.AppendString(dst, "context")
		dst = msgp.AppendStringFromBytes(dst, m.Context)
	}
	if len(m.OwlContext) != 0 {
		dst = msgp.AppendString(dst, "owl_context")
		dst = msgp.AppendStringFromBytes(dst, m.OwlContext)
	}
	return dst
}

// AppendChannelJob appends the channel-job encoding of m: the old daemon's
// 11 keys in its order (MsgKey, Body, Sender, Time, OriginJobId,
// RetryTimes, LogId, Delay, Priority, Context, Owl_context) followed by
// SubscriptionId, which lets a consumer route the job without asking
// beanstalkd for its tube. Every key is always present (empty strings and
// zeros when unset) so the old daemon can read jobs we write during a
// migration; the body is copied as received (nil when m.Body is empty). It
// allocates only to grow dst.
func AppendChannelJob(dst []byte, m *Message) []byte {
	return appendJob(dst, m, true)
}

// AppendRetryJob appends the retry-job encoding of m: exactly the old
// daemon's 11 keys in its order, as its retry tubes hold them (other
// daemons of a mixed fleet read them), without SubscriptionId; a consumer
// routes it by its tube.
func AppendRetryJob(dst []byte, m *Message) []byte {
	return appendJob(dst, m, false)
}

func appendJob(dst []byte, m *Message, withSub bool) []byte {
	n := uint32(11)
	if withSub {
		n++
	}
	dst = msgp.AppendMapHeader(dst, n)
	dst = msgp.AppendString(dst, "MsgKey")
	dst = msgp.AppendStringFromBytes(dst, m.Topic)
	dst = msgp.AppendString(dst, "Body")
	dst = appendBody(dst, m.Body)
	dst = msgp.AppendString(dst, "Sender")
	dst = msgp.AppendStringFromBytes(dst, m.Sender)
	dst = msgp.AppendString(dst, "Time")
	dst = msgp.AppendFloat64(dst, m.Time)
	dst = msgp.AppendString(dst, "OriginJobId")
	dst = appendID(dst, m.OriginJobID)
	dst = msgp.AppendString(dst, "RetryTimes")
	dst = msgp.AppendInt(dst, m.RetryTimes)
	dst = msgp.AppendString(dst, "LogId")
	dst = appendID(dst, m.LogID)
	dst = msgp.AppendString(dst, "Delay")
	dst = msgp.AppendUint32(dst, m.Delay)
	dst = msgp.AppendString(dst, "Priority")
	dst = msgp.AppendUint32(dst, m.Priority)
	dst = msgp.AppendString(dst, "Context")
	dst = msgp.AppendStringFromBytes(dst, m.Context)
	dst = msgp.AppendString(dst, "Owl_context")
	dst = msgp.AppendStringFromBytes(dst, m.OwlContext)
	if withSub {
		dst = msgp.AppendString(dst, "SubscriptionId")
		dst = msgp.AppendInt64(dst, m.SubscriptionID)
	}
	return dst
}

// appendBody copies a raw body, writing nil for a missing one.
func appendBody(dst, body []byte) []byte {
	if len(body) == 0 {
		return msgp.AppendNil(dst)
	}
	return append(dst, body...)
}

// appendID writes an id as a signed int, as the old daemon did (its fields
// were Go ints); only ids beyond int64, which beanstalkd never hands out,
// fall back to uint64 so that nothing is lost.
func appendID(dst []byte, id uint64) []byte {
	if id > math.MaxInt64 {
		return msgp.AppendUint64(dst, id)
	}
	return msgp.AppendInt64(dst, int64(id))
}

// MapKeys returns the keys of the msgpack map job, in their order (string
// and bin keys as text, others skipped). Tools and tests use it to check
// that a job has the shape the old daemon's readers expect.
func MapKeys(job []byte) ([]string, error) {
	n, rest, err := msgp.ReadMapHeaderBytes(job)
	if err != nil {
		return nil, fmt.Errorf("%w: not a map: %v", ErrMalformed, err)
	}
	keys := make([]string, 0, n)
	for i := uint32(0); i < n; i++ {
		if msgp.NextType(rest) == msgp.StrType || msgp.NextType(rest) == msgp.BinType {
			var k []byte
			if k, rest, err = msgp.ReadStringZC(rest); err != nil {
				if k, rest, err = msgp.ReadBytesZC(rest); err != nil {
					return nil, fmt.Errorf("%w: key %d: %v", ErrMalformed, i, err)
				}
			}
			keys = append(keys, string(k))
		} else if rest, err = msgp.Skip(rest); err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrMalformed, i, err)
		}
		if rest, err = msgp.Skip(rest); err != nil {
			return nil, fmt.Errorf("%w: value %d: %v", ErrMalformed, i, err)
		}
	}
	return keys, nil
}
