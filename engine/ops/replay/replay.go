// Package replay puts messages that exist only in DATA logs back where they
// belong: REDISTFAIL and DROP lines (a channel job) into their channel
// tube, RECOVFAILBACK lines (a main-tube job) into the main tube, and the
// job of FAILREC lines whose final is given_up into its channel tube as a
// fresh message (retry count 0, same jobid), as failrec --resend does for
// the records Redis kept. FAILREC lines of other finals are skipped: a
// retrying record's message is still in a retry tube (re-sending it would
// push it twice) and a success record's was delivered.
//
// A malformed line (it does not parse, or lacks its job or its tube) is
// counted and reported with its line number (Options.Malformed); the other
// lines are replayed all the same.
//
// It is idempotent across runs: every line put back is recorded (a SHA-256
// of the whole line, timestamp included) in a state file, and a recorded
// line is never put again. A line is recorded right after its put
// succeeded, so only a crash between the two can repeat one message.
package replay

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/datalog"
	"medispatcher/internal/wire"
)

// Putter is what replay needs of connpool.Pool.
type Putter interface {
	Put(ctx context.Context, prefer int, tube string, body []byte, pri uint32, delay, ttr time.Duration) (connpool.PutResult, error)
}

// Options of a replay.
type Options struct {
	MainTube, ChannelPrefix string
	DryRun                  bool
	// Malformed, when set, hears every malformed line: its number in the
	// input (the first line is 1) and what is wrong with it.
	Malformed func(line int, err error)
}

// Summary counts what a replay did.
type Summary struct {
	Lines      int            // lines read
	Replayed   map[string]int // per category (would be, in a dry run)
	Already    int            // lines replayed by an earlier run
	Skipped    int            // categories that carry no message to replay
	Malformed  int            // lines that do not parse or lack their job
	Failed     int            // puts that failed (the line stays unreplayed)
	FirstError error
}

// State is the set of lines already replayed, kept in a file.
type State struct {
	done map[string]bool
	f    *os.File
}

// OpenState reads (or creates) the state file at path.
func OpenState(path string) (*State, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open replay state %s: %w", path, err)
	}
	s := &State{done: map[string]bool{}, f: f}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s.done[sc.Text()] = true
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("read replay state %s: %w", path, err)
	}
	return s, nil
}

// Close closes the state file.
func (s *State) Close() error { return s.f.Close() }

func lineKey(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

func (s *State) mark(key string) error {
	if _, err := s.f.WriteString(key + "\n"); err != nil {
		return fmt.Errorf("record replayed line: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync replay state: %w", err)
	}
	s.done[key] = true
	return nil
}

// Run replays the DATA log read from r.
func Run(ctx context.Context, r io.Reader, p Putter, st *State, o Options) Summary {
	sum := Summary{Replayed: map[string]int{}}
	sc := datalog.NewScanner(r)
	lineNo := 0
	bad := func(err error) {
		sum.Malformed++
		if o.Malformed != nil {
			o.Malformed(lineNo, err)
		}
	}
	for sc.Scan() && ctx.Err() == nil {
		lineNo++
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		sum.Lines++
		e, err := datalog.ParseLine(line)
		if err != nil {
			bad(err)
			continue
		}
		j, ok, err := plan(&e, o)
		if err != nil {
			bad(fmt.Errorf("%s line: %w", e.Category, err))
			continue
		}
		if !ok {
			sum.Skipped++
			continue
		}
		key := lineKey(line)
		if st.done[key] {
			sum.Already++
			continue
		}
		if o.DryRun {
			sum.Replayed[string(e.Category)]++
			continue
		}
		if err := j.put(ctx, p, o); err != nil {
			sum.Failed++
			if sum.FirstError == nil {
				sum.FirstError = fmt.Errorf("line %d: %w", lineNo, err)
			}
			continue
		}
		if err := st.mark(key); err != nil {
			sum.FirstError = errors.Join(sum.FirstError, err)
			return sum
		}
		sum.Replayed[string(e.Category)]++
	}
	if err := sc.Err(); err != nil {
		sum.FirstError = errors.Join(sum.FirstError, fmt.Errorf("read after line %d: %w", lineNo, err))
	}
	return sum
}

// job is what one line puts back: a job into a tube, or a failure record
// re-sent.
type job struct {
	tube  string
	body  []byte
	pri   uint32
	delay time.Duration
	rec   *failures.Record
}

func (j *job) put(ctx context.Context, p Putter, o Options) error {
	if j.rec != nil {
		return failures.Resend(ctx, p, j.rec, o.ChannelPrefix)
	}
	if _, err := p.Put(ctx, -1, j.tube, j.body, j.pri, j.delay, time.Minute); err != nil {
		return fmt.Errorf("put to %s: %w", j.tube, err)
	}
	return nil
}

var errNoJob = errors.New("no job (raw= field missing or empty)")

// plan returns what a line puts back; ok is false for lines that carry
// nothing to replay, err says why a line that should is malformed.
func plan(e *datalog.Entry, o Options) (j job, ok bool, err error) {
	switch e.Category {
	case datalog.RecovFailBack:
		if len(e.Raw) == 0 {
			return j, true, errNoJob
		}
		j = job{tube: o.MainTube, body: e.Raw, pri: wire.Priority}
		var m message.Message
		if err := message.Decode(e.Raw, &m); err == nil {
			if m.Priority != 0 {
				j.pri = m.Priority
			}
			j.delay = time.Duration(m.Delay) * time.Second
		}
		return j, true, nil
	case datalog.RedistFail, datalog.Drop:
		topic, _ := e.Field("topic")
		sub, _ := e.Field("sub")
		if e.Category == datalog.Drop && sub == "0" {
			// A message whose topic had no subscription (LogUnsubscribed):
			// the producer's job, back into the main tube.
			if len(e.Raw) == 0 {
				return j, true, errNoJob
			}
			return job{tube: o.MainTube, body: e.Raw, pri: wire.Priority}, true, nil
		}
		id, err := strconv.ParseInt(sub, 10, 64)
		if err != nil || id <= 0 || topic == "" {
			return j, true, fmt.Errorf("no channel: topic %q, sub %q", topic, sub)
		}
		if len(e.Raw) == 0 {
			return j, true, errNoJob
		}
		return job{tube: wire.ChannelTube(topic, o.ChannelPrefix, id), body: e.Raw, pri: wire.Priority}, true, nil
	case failures.FailRec:
		r, err := failures.FromFailRec(e)
		if err != nil {
			return j, true, err
		}
		if r.Final != failures.GivenUp {
			return j, false, nil
		}
		if len(r.Job) == 0 {
			return j, true, fmt.Errorf("given_up without its job (written before FAILREC lines carried it): %w", errNoJob)
		}
		var m message.Message
		if err := message.Decode(r.Job, &m); err != nil {
			return j, true, fmt.Errorf("job: %w", err)
		}
		return job{rec: r}, true, nil
	}
	return j, false, nil
}
