// Package message is the wire codec of medispatcher: it decodes the msgpack
// jobs producers put into the main tube (and the channel and retry jobs of
// this and the old daemon), encodes channel and retry jobs, and turns a
// message body into the exact JSON a subscriber receives.
//
// Decoding uses no reflection and does not copy: the byte-slice fields of a
// Message alias the job it was decoded from.
//
// The package is on the hot path of every message: it must never panic on
// any input, never use reflection, and never allocate per message beyond
// growing the caller's buffers (DecodeValue excepted: it builds the Go
// values a content filter looks into, for those messages only). It does
// no I/O and keeps no state between calls beyond a pool of scratch space.
//
// Files: decode.go (Decode), encode.go (AppendMainJob, AppendChannelJob),
// json.go (AppendJSON), fromjson.go (AppendMsgpackJSON: a JSON body in
// msgpack, for the HTTP publish API), value.go (DecodeValue: a body as Go
// values, for content filters), jobid.go (AppendJobID), read.go (the
// msgpack header reader they share).
package message

import "errors"

// ErrMalformed wraps every error of Decode and AppendJSON: the job or body
// is not what producers are allowed to send.
var ErrMalformed = errors.New("malformed message")

// Message is a decoded job. Byte-slice fields alias the decoded buffer.
type Message struct {
	Topic      []byte  // msgKey: the topic
	Body       []byte  // raw msgpack encoding of the body value (any type)
	Sender     []byte  // sender
	Time       float64 // unix seconds with fraction
	Priority   uint32  // optional put priority (0 when absent)
	Delay      uint32  // optional put delay in seconds
	Context    []byte  // context: X-Jumei-Context
	OwlContext []byte  // owl_context: X-Jumei-Owl-Context

	// Channel and retry jobs only.
	OriginJobID    uint64 // main-tube job id
	RetryTimes     int    // retries done so far
	LogID          uint64 // failure-record id (0: none yet)
	SubscriptionID int64  // 0 in jobs written by the old daemon
}
