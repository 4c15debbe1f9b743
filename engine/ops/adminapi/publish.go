package adminapi

import "encoding/json"

// PublishMessage is one message of the HTTP publish API: the body of
// POST /api/v1/messages and each element of a batch. Topic and Body are
// required; Body is any JSON value, delivered to subscribers as if a
// msgpack producer had sent the same value. Priority and Delay (seconds)
// are the beanstalkd put's; absent, the job names none and is put with
// priority 1024 and no delay. Context and OwlContext are passed to
// subscribers as X-Jumei-Context and X-Jumei-Owl-Context.
type PublishMessage struct {
	Topic      string          `json:"topic"`
	Body       json.RawMessage `json:"body"`
	Sender     string          `json:"sender,omitempty"`
	Priority   *uint32         `json:"priority,omitempty"`
	Delay      *uint32         `json:"delay,omitempty"`
	Context    string          `json:"context,omitempty"`
	OwlContext string          `json:"owl_context,omitempty"`
}

// PublishBatch is the body of POST /api/v1/messages/batch.
type PublishBatch struct {
	Messages []PublishMessage `json:"messages"`
}

// PublishResult says where one message went: a job (JobID on Server, the
// beanstalkd address), or the Redis recover list it waits in while
// beanstalkd is unreachable, or, in a batch, the Error that kept it out.
type PublishResult struct {
	JobID       uint64   `json:"job_id,omitempty"`
	Server      string   `json:"server,omitempty"`
	RecoverList string   `json:"recover_list,omitempty"`
	Error       *Problem `json:"error,omitempty"`
}

// PublishBatchResult answers a batch: one result per message, in order.
type PublishBatchResult struct {
	Results []PublishResult `json:"results"`
}

// IdempotencyKeyHeader names the request header whose key makes a publish
// request idempotent; ReplayHeader ("true") marks an answer repeated from
// the first request with the same key.
const (
	IdempotencyKeyHeader = "Idempotency-Key"
	ReplayHeader         = "Idempotent-Replay"
)
