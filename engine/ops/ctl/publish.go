package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/config"
)

// publishFlags are the message fields medictl publish takes as flags.
type publishFlags struct {
	sender, context, owlContext, key, batch string
	priority, delay                         int64
}

func publishCommand() *command {
	return &command{
		name:    "publish",
		args:    "TOPIC BODY_JSON",
		summary: "publish a message (or, with --batch, a file of them) through the HTTP publish API",
		help: `BODY_JSON is any JSON value; subscribers receive it as if a msgpack
producer had sent it. The answer is the job's id and server, or the Redis
recover list it waits in while beanstalkd is unreachable.

--batch FILE (- = standard input) publishes JSON lines instead, one message
object per line ({"topic": ..., "body": ..., "sender": ...}; no TOPIC and
BODY_JSON), in batches of PublishMaxBatch (of -f, else 500); a message that
fails is reported with its line number, the others are published.

--idempotency-key KEY: a repeat with the same key (and token) within
PublishIdempotencySeconds answers as the first time and publishes nothing;
with --batch, batch N uses KEY-N.

The token may also be one of PublishTokens (which can publish and nothing
else); with -f and no AdminToken there, the first of PublishTokens is used.`,
		setup: func(fs *flag.FlagSet) action {
			var f publishFlags
			fs.StringVar(&f.sender, "sender", "", "the message's sender")
			fs.Int64Var(&f.priority, "priority", -1, "beanstalkd priority, 0 (most urgent) to 4294967295 (default: none in the job, put at 1024)")
			fs.Int64Var(&f.delay, "delay", 0, "seconds before the message is dispatched")
			fs.StringVar(&f.context, "context", "", "X-Jumei-Context of the pushes")
			fs.StringVar(&f.owlContext, "owl-context", "", "X-Jumei-Owl-Context of the pushes")
			fs.StringVar(&f.key, "idempotency-key", "", "Idempotency-Key of the request")
			fs.StringVar(&f.batch, "batch", "", "JSON-lines file of messages to publish (- = standard input)")
			return func(ctx context.Context, r *runner, args []string) error {
				r.publishToken()
				if f.batch != "" {
					if len(args) > 0 {
						return usageErrorf("--batch takes no TOPIC or BODY_JSON")
					}
					return publishBatch(ctx, r, f.batch, f.key)
				}
				m, err := f.message(args)
				if err != nil {
					return err
				}
				return publishOne(ctx, r, m, f.key)
			}
		},
	}
}

// message builds the message of TOPIC BODY_JSON and the flags.
func (f *publishFlags) message(args []string) (*adminapi.PublishMessage, error) {
	if len(args) != 2 {
		return nil, usageErrorf("want TOPIC BODY_JSON (or --batch FILE)")
	}
	if args[0] == "" {
		return nil, usageErrorf("TOPIC is empty")
	}
	if !json.Valid([]byte(args[1])) {
		return nil, usageErrorf("BODY_JSON %q is not one JSON value (a string needs its quotes: '\"text\"')", args[1])
	}
	m := &adminapi.PublishMessage{Topic: args[0], Body: json.RawMessage(args[1]), Sender: f.sender,
		Context: f.context, OwlContext: f.owlContext}
	if f.priority >= 0 {
		if f.priority > 1<<32-1 {
			return nil, usageErrorf("--priority %d: at most 4294967295", f.priority)
		}
		p := uint32(f.priority)
		m.Priority = &p
	}
	if f.delay != 0 {
		if f.delay < 0 || f.delay > 1<<32-1 {
			return nil, usageErrorf("--delay %d: 0 to 4294967295 seconds", f.delay)
		}
		d := uint32(f.delay)
		m.Delay = &d
	}
	return m, nil
}

// publishToken makes the first of PublishTokens of -f the token when
// nothing else gives one (no --token, no environment, no AdminToken).
func (r *runner) publishToken() {
	if r.g.token != "" || r.env.Getenv(TokenEnv) != "" || r.g.config == "" {
		return
	}
	cfg, _, err := config.Load(r.g.config)
	if err == nil && cfg.AdminToken == "" && len(cfg.PublishTokens) > 0 {
		r.g.token = cfg.PublishTokens[0]
	}
}

// idempotencyHeader is the request header of key ("" = none).
func idempotencyHeader(key string) map[string]string {
	if key == "" {
		return nil
	}
	return map[string]string{adminapi.IdempotencyKeyHeader: key}
}

func publishOne(ctx context.Context, r *runner, m *adminapi.PublishMessage, key string) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	var res adminapi.PublishResult
	raw, err := c.DoHeader(ctx, "POST", "/api/v1/messages", nil, idempotencyHeader(key), m, &res)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printRaw(raw)
	}
	_, err = fmt.Fprintln(r.env.Stdout, describeResult(res))
	return err
}

// describeResult says where a message went.
func describeResult(res adminapi.PublishResult) string {
	switch {
	case res.Error != nil:
		return "failed: " + res.Error.Code + ": " + res.Error.Message
	case res.RecoverList != "":
		return "beanstalkd unreachable: waiting in recover list " + res.RecoverList
	}
	return fmt.Sprintf("published: job %d on %s", res.JobID, res.Server)
}

// batchSize is PublishMaxBatch of -f, else its default.
func (r *runner) batchSize() (int, error) {
	if r.g.config == "" {
		return config.Default().PublishMaxBatch, nil
	}
	cfg, _, err := config.Load(r.g.config)
	if err != nil {
		return 0, &configError{err}
	}
	return cfg.PublishMaxBatch, nil
}

// publishBatch publishes the JSON lines of file in batches and reports
// the messages that failed by line.
func publishBatch(ctx context.Context, r *runner, file, key string) error {
	size, err := r.batchSize()
	if err != nil {
		return err
	}
	in := r.env.Stdin
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("--batch: %w", err)
		}
		defer fh.Close()
		in = fh
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	b := &batcher{r: r, c: c, key: key, size: size}
	if err := readLines(in, func(line int, msg json.RawMessage) error { return b.add(ctx, line, msg) }); err != nil {
		return err
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	if !r.g.json {
		fmt.Fprintf(r.env.Stdout, "%d published, %d in the recover list, %d failed\n", b.put, b.recovered, b.failed)
	}
	if b.failed > 0 {
		return fmt.Errorf("%d of %d messages not published", b.failed, b.put+b.recovered+b.failed)
	}
	return nil
}

// readLines calls add for each non-blank line of in, a JSON value.
func readLines(in io.Reader, add func(line int, msg json.RawMessage) error) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		if !json.Valid(text) {
			return usageErrorf("--batch line %d: not one JSON value", n)
		}
		if err := add(n, json.RawMessage(append([]byte(nil), text...))); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--batch: %w", err)
	}
	return nil
}

// batcher sends messages in batches and counts the outcomes.
type batcher struct {
	r                      *runner
	c                      *Client
	key                    string
	size, sent             int
	lines                  []int
	msgs                   []json.RawMessage
	put, recovered, failed int
}

func (b *batcher) add(ctx context.Context, line int, msg json.RawMessage) error {
	b.lines, b.msgs = append(b.lines, line), append(b.msgs, msg)
	if len(b.msgs) < b.size {
		return nil
	}
	return b.flush(ctx)
}

func (b *batcher) flush(ctx context.Context) error {
	if len(b.msgs) == 0 {
		return nil
	}
	key := ""
	if b.key != "" {
		key = b.key + "-" + strconv.Itoa(b.sent)
	}
	var res adminapi.PublishBatchResult
	raw, err := b.c.DoHeader(ctx, "POST", "/api/v1/messages/batch", nil, idempotencyHeader(key),
		map[string]any{"messages": b.msgs}, &res)
	if err != nil {
		return fmt.Errorf("batch of lines %d-%d: %w", b.lines[0], b.lines[len(b.lines)-1], err)
	}
	if b.r.g.json {
		if err := b.r.printRaw(raw); err != nil {
			return err
		}
	}
	for i, x := range res.Results[:min(len(res.Results), len(b.lines))] {
		switch {
		case x.Error != nil:
			b.failed++
			fmt.Fprintf(b.r.env.Stderr, "line %d: %s: %s\n", b.lines[i], x.Error.Code, x.Error.Message)
		case x.RecoverList != "":
			b.recovered++
		default:
			b.put++
		}
	}
	b.sent++
	b.lines, b.msgs = b.lines[:0], b.msgs[:0]
	return nil
}
