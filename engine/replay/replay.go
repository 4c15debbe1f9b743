// Package replay puts messages that exist only in DATA logs back where they
// belong: REDISTFAIL and DROP lines (a channel job) into their channel
// tube, RECOVFAILBACK lines (a main-tube job) into the main tube.
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
	"medispatcher/engine/datalog"
	"medispatcher/engine/message"
)

// Putter is what replay needs of connpool.Pool.
type Putter interface {
	Put(ctx context.Context, prefer int, tube string, body []byte, pri uint32, delay, ttr time.Duration) (connpool.PutResult, error)
}

// Options of a replay.
type Options struct {
	MainTube, ChannelPrefix string
	DryRun                  bool
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
	for sc.Scan() && ctx.Err() == nil {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		sum.Lines++
		e, err := datalog.ParseLine(line)
		if err != nil {
			sum.Malformed++
			continue
		}
		tube, ok := target(&e, o)
		if !ok {
			sum.Skipped++
			continue
		}
		if tube == "" || len(e.Raw) == 0 {
			sum.Malformed++
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
		pri, delay := uint32(1024), time.Duration(0)
		if e.Category == datalog.RecovFailBack {
			var m message.Message
			if err := message.Decode(e.Raw, &m); err == nil {
				if m.Priority != 0 {
					pri = m.Priority
				}
				delay = time.Duration(m.Delay) * time.Second
			}
		}
		if _, err := p.Put(ctx, -1, tube, e.Raw, pri, delay, time.Minute); err != nil {
			sum.Failed++
			if sum.FirstError == nil {
				sum.FirstError = fmt.Errorf("line %d: put to %s: %w", sum.Lines, tube, err)
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
		sum.FirstError = errors.Join(sum.FirstError, fmt.Errorf("read: %w", err))
	}
	return sum
}

// target returns the tube a line's job goes back to; ok is false for
// categories that carry nothing to replay.
func target(e *datalog.Entry, o Options) (tube string, ok bool) {
	switch e.Category {
	case datalog.RecovFailBack:
		return o.MainTube, true
	case datalog.RedistFail, datalog.Drop:
		topic, _ := e.Field("topic")
		sub, _ := e.Field("sub")
		if id, err := strconv.ParseInt(sub, 10, 64); err != nil || id <= 0 || topic == "" {
			return "", true
		}
		return topic + "/" + o.ChannelPrefix + sub, true
	}
	return "", false
}
