package message

// Placeholder bodies of the agreed API; replaced by the implementation.

// Decode decodes a main-tube, channel or retry job into m (reset first).
// Keys match case-insensitively; numeric fields accept int, uint, float and
// numeric strings; unknown keys are skipped; msgKey is required.
func Decode(data []byte, m *Message) error { panic("unimplemented") }

// AppendMainJob appends the main-tube encoding of m (as producers write it:
// msgKey, body, sender, time, and priority/delay/context/owl_context when set).
func AppendMainJob(dst []byte, m *Message) []byte { panic("unimplemented") }

// AppendChannelJob appends the channel/retry-job encoding of m: the old
// daemon's 11 keys in its order (MsgKey, Body, Sender, Time, OriginJobId,
// RetryTimes, LogId, Delay, Priority, Context, Owl_context) followed by
// SubscriptionId.
func AppendChannelJob(dst []byte, m *Message) []byte { panic("unimplemented") }

// AppendJSON appends the JSON subscribers receive for a msgpack-encoded
// body: byte for byte what Go's encoding/json makes of it (sorted keys,
// non-string keys as strings, HTML-safe escaping), at any depth.
func AppendJSON(dst []byte, body []byte) ([]byte, error) { panic("unimplemented") }

// AppendJobID appends the push's jobid: "<time %f>-<originJobID>-<subID>".
func AppendJobID(dst []byte, time float64, originJobID uint64, subID int64) []byte {
	panic("unimplemented")
}
