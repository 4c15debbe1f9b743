// Package failures keeps the failure records of pushes: one entry per failed
// push and one when a message's fate is final (delivered after retries, or
// given up), in a bounded Redis stream operators query and re-send from.
//
// Writing a record never blocks a push: records go through a bounded queue
// to one writer goroutine; a record that cannot be queued or written is
// handed to a fallback (the daemon writes it to the DATA log), never
// dropped silently.
//
// Stream layout (key "<prefix>:failures", XADD MAXLEN ~ <max>): fields
// log_id, jobid, topic, sub, subscriber, url, error, retry_times, final
// ("" while retrying, "success" or "given_up"), time_ms, job (the msgpack
// job as reserved, on failure entries; Resend puts it back).
//
// The url and error fields are stored with URL userinfo masked
// (redact.URL): a record is for people, the push used the full URL.
package failures

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/redact"
	"medispatcher/internal/wire"
)

// Final states of a record.
const (
	Retrying = ""
	Success  = "success"
	GivenUp  = "given_up"
)

// Record is one failure-record event.
type Record struct {
	LogID        uint64
	JobID        string
	Topic        string
	SubID        int64
	SubscriberID int64
	URL          string
	Error        string
	RetryTimes   int
	Final        string
	Time         time.Time
	// Job is the channel or retry job as reserved (failures only, so that
	// a given-up message can be re-sent); empty on success records.
	Job []byte
	// PanelError is Error in 2.x's words (PanelText), as the 2.x failure
	// table shows it; empty on success records. It is not kept in Redis.
	PanelError string
}

// View is a record as operators' tools show it (the admin API, failrec
// --json): the job itself is left out, HasJob says whether it is kept.
type View struct {
	LogID      uint64    `json:"log_id"`
	JobID      string    `json:"jobid"`
	Topic      string    `json:"topic"`
	Sub        int64     `json:"sub"`
	Subscriber int64     `json:"subscriber"`
	URL        string    `json:"url"`
	Error      string    `json:"error"`
	RetryTimes int       `json:"retry_times"`
	Final      string    `json:"final"` // retrying, success or given_up
	Time       time.Time `json:"time"`
	HasJob     bool      `json:"has_job"`
}

// View returns the record as tools show it, URL userinfo masked (records
// written before Add masked it too).
func (r *Record) View() View {
	final := r.Final
	if final == Retrying {
		final = "retrying"
	}
	return View{r.LogID, r.JobID, r.Topic, r.SubID, r.SubscriberID, redact.URL(r.URL), redact.URL(r.Error), r.RetryTimes, final, r.Time, len(r.Job) > 0}
}

// IDs makes failure-record ids unique across daemons without asking Redis:
// milliseconds since the Unix epoch (41 bits), a random node number fixed
// at start (10 bits) and a per-millisecond sequence (12 bits). An id is
// never 0, which marks a job that has not failed yet.
type IDs struct {
	node uint64
	last atomic.Uint64
}

// NewIDs picks a random node number.
func NewIDs() *IDs {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return &IDs{node: uint64(binary.LittleEndian.Uint16(b[:])) & 0x3ff}
}

// Next returns a new id, strictly greater than the previous one.
func (g *IDs) Next() uint64 {
	for {
		now := uint64(time.Now().UnixMilli())<<22 | g.node<<12
		old := g.last.Load()
		next := now
		if next <= old {
			next = old + 1
		}
		if g.last.CompareAndSwap(old, next) {
			return next
		}
	}
}

// Config of a Store.
type Config struct {
	Key     string // stream key, e.g. "{medispatcher}:failures"
	MaxLen  int64  // approximate bound of the stream; default 100000
	Queue   int    // records buffered before falling back; default 4096
	Timeout time.Duration
	// Fallback receives every record that could not be written, with why.
	Fallback func(r *Record, err error)
	Logger   *slog.Logger
	// Rows, when set, also keeps every record there (see Rows); Close
	// closes it once the stream's writer is done.
	Rows Rows
}

// Store writes records to Redis in the background.
type Store struct {
	cfg    Config
	client atomic.Pointer[rueidis.Client]
	queue  chan *Record
	done   chan struct{}
	once   sync.Once
	Lost   atomic.Uint64 // records handed to the fallback
}

// New starts the writer. client may be nil (no Redis yet: records go to the
// fallback) and set later with SetClient.
func New(client rueidis.Client, cfg Config) *Store {
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = 100000
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Fallback == nil {
		cfg.Fallback = func(r *Record, err error) {
			cfg.Logger.Error("failure record lost", "log_id", r.LogID, "sub", r.SubID, "err", err)
		}
	}
	s := &Store{cfg: cfg, queue: make(chan *Record, cfg.Queue), done: make(chan struct{})}
	if client != nil {
		s.client.Store(&client)
	}
	go s.loop()
	return s
}

// SetClient gives the store its Redis client once one is connected.
func (s *Store) SetClient(c rueidis.Client) { s.client.Store(&c) }

// Add queues a record (and hands it to Rows); it never blocks. The
// record's URL and Error are masked first (redact.URL), for Redis and for
// the fallback alike.
func (s *Store) Add(r *Record) {
	prepare(r)
	s.queueRecord(r)
	if s.cfg.Rows != nil {
		s.cfg.Rows.Add(r)
	}
}

// queueRecord queues a prepared record for the stream's writer.
func (s *Store) queueRecord(r *Record) {
	select {
	case s.queue <- r:
	default:
		s.fallback(r, fmt.Errorf("failure-record queue full (%d)", cap(s.queue)))
	}
}

func (s *Store) fallback(r *Record, err error) {
	s.Lost.Add(1)
	s.cfg.Fallback(r, err)
}

func (s *Store) loop() {
	defer close(s.done)
	for r := range s.queue {
		s.write(r)
	}
}

func (s *Store) write(r *Record) {
	cp := s.client.Load()
	if cp == nil {
		s.fallback(r, fmt.Errorf("no redis connection"))
		return
	}
	c := *cp
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	cmd := c.B().Xadd().Key(s.cfg.Key).Maxlen().Almost().Threshold(strconv.FormatInt(s.cfg.MaxLen, 10)).Id("*").
		FieldValue().
		FieldValue("log_id", strconv.FormatUint(r.LogID, 10)).
		FieldValue("jobid", r.JobID).
		FieldValue("topic", r.Topic).
		FieldValue("sub", strconv.FormatInt(r.SubID, 10)).
		FieldValue("subscriber", strconv.FormatInt(r.SubscriberID, 10)).
		FieldValue("url", r.URL).
		FieldValue("error", r.Error).
		FieldValue("retry_times", strconv.Itoa(r.RetryTimes)).
		FieldValue("final", r.Final).
		FieldValue("time_ms", strconv.FormatInt(r.Time.UnixMilli(), 10)).
		FieldValue("job", string(r.Job)).
		Build()
	if err := c.Do(ctx, cmd).Error(); err != nil {
		s.fallback(r, fmt.Errorf("xadd %s: %w", s.cfg.Key, err))
	}
}

// Close writes what is queued (bounded by ctx) and stops the writer, then
// Rows; records still queued when ctx ends go to the fallbacks.
func (s *Store) Close(ctx context.Context) {
	s.once.Do(func() { close(s.queue) })
	select {
	case <-s.done:
	case <-ctx.Done():
		s.client.Store(nil) // the writer hands the rest to the fallback quickly
		<-s.done
	}
	if s.cfg.Rows != nil {
		s.cfg.Rows.Close(ctx)
	}
}

// Query returns up to count records of the stream, newest first, that match
// keep (nil: all).
func Query(ctx context.Context, c rueidis.Client, key string, count int64, keep func(*Record) bool) ([]*Record, error) {
	entries, err := c.Do(ctx, c.B().Xrevrange().Key(key).End("+").Start("-").Count(count).Build()).AsXRange()
	if err != nil {
		return nil, fmt.Errorf("xrevrange %s: %w", key, err)
	}
	out := make([]*Record, 0, len(entries))
	for _, e := range entries {
		r := fromFields(e.FieldValues)
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func fromFields(f map[string]string) *Record {
	r := &Record{JobID: f["jobid"], Topic: f["topic"], URL: f["url"], Error: f["error"], Final: f["final"]}
	if j := f["job"]; j != "" {
		r.Job = []byte(j)
	}
	r.LogID, _ = strconv.ParseUint(f["log_id"], 10, 64)
	r.SubID, _ = strconv.ParseInt(f["sub"], 10, 64)
	r.SubscriberID, _ = strconv.ParseInt(f["subscriber"], 10, 64)
	r.RetryTimes, _ = strconv.Atoi(f["retry_times"])
	if ms, err := strconv.ParseInt(f["time_ms"], 10, 64); err == nil {
		r.Time = time.UnixMilli(ms)
	}
	return r
}

// Putter is what Resend needs of connpool.Pool.
type Putter interface {
	Put(ctx context.Context, prefer int, tube string, body []byte, pri uint32, delay, ttr time.Duration) (connpool.PutResult, error)
}

// Resend puts the message of a failure record back into its subscription's
// channel tube as a fresh message (no retries done, no record yet): it is
// pushed again with the same jobid, so subscribers can still tell it apart.
func Resend(ctx context.Context, p Putter, r *Record, channelPrefix string) error {
	if len(r.Job) == 0 {
		return fmt.Errorf("resend record %d: it holds no job (success records do not)", r.LogID)
	}
	var m message.Message
	if err := message.Decode(r.Job, &m); err != nil {
		return fmt.Errorf("resend record %d: %w", r.LogID, err)
	}
	m.RetryTimes, m.LogID, m.SubscriptionID = 0, 0, r.SubID
	tube := wire.ChannelTube(r.Topic, channelPrefix, r.SubID)
	if _, err := p.Put(ctx, -1, tube, message.AppendChannelJob(nil, &m), wire.Priority, 0, wire.TTR); err != nil {
		return fmt.Errorf("resend record %d to %s: %w", r.LogID, tube, err)
	}
	return nil
}
