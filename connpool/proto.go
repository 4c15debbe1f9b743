package connpool

// The beanstalkd text protocol: commands appended to a caller's buffer and
// replies parsed in place, without allocating (except the bodies of jobs and
// stats, which the caller keeps).

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// maxTubeName is beanstalkd's MAX_TUBE_NAME_LEN minus its terminator.
const maxTubeName = 200

// tubeChars marks the bytes beanstalkd accepts in a name (its NAME_CHARS).
var tubeChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()") {
		t[c] = true
	}
	return t
}()

// checkTube rejects names beanstalkd would answer with BAD_FORMAT.
func checkTube(name string) error {
	if len(name) == 0 || len(name) > maxTubeName || name[0] == '-' {
		return ErrBadTubeName
	}
	for i := 0; i < len(name); i++ {
		if !tubeChars[name[i]] {
			return ErrBadTubeName
		}
	}
	return nil
}

// seconds converts a duration to the protocol's whole seconds (truncated).
func seconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d / time.Second)
}

// ttrSeconds rounds a TTR up: beanstalkd's minimum is 1 s and a TTR cut
// short would redeliver jobs early.
func ttrSeconds(d time.Duration) uint64 {
	s := uint64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

func appendWord(b []byte, cmd string, arg string) []byte {
	b = append(b, cmd...)
	b = append(b, ' ')
	b = append(b, arg...)
	return append(b, '\r', '\n')
}

func appendID(b []byte, cmd string, id uint64) []byte {
	b = append(b, cmd...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, id, 10)
	return append(b, '\r', '\n')
}

func appendPut(b []byte, pri uint32, delay, ttr uint64, body []byte) []byte {
	b = append(b, "put "...)
	b = strconv.AppendUint(b, uint64(pri), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, delay, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, ttr, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(len(body)), 10)
	b = append(b, '\r', '\n')
	b = append(b, body...)
	return append(b, '\r', '\n')
}

func appendRelease(b []byte, id uint64, pri uint32, delay uint64) []byte {
	b = append(b, "release "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(pri), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, delay, 10)
	return append(b, '\r', '\n')
}

func appendBury(b []byte, id uint64, pri uint32) []byte {
	b = append(b, "bury "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(pri), 10)
	return append(b, '\r', '\n')
}

// replyKind is the first word of a reply.
type replyKind uint8

const (
	rUnknown replyKind = iota
	rInserted
	rBuried
	rUsing
	rWatching
	rNotIgnored
	rReserved
	rDeadlineSoon
	rTimedOut
	rDeleted
	rReleased
	rTouched
	rKicked
	rFound
	rOK
	rNotFound
	rJobTooBig
	rDraining
	rExpectedCRLF
	rOutOfMemory
	rInternalError
	rBadFormat
	rUnknownCommand
)

var replyWords = [...]struct {
	word string
	kind replyKind
	args int // numeric arguments: -1 = one name, -2 = 0 or 1 number
}{
	{"INSERTED", rInserted, 1},
	{"BURIED", rBuried, -2},
	{"USING", rUsing, -1},
	{"WATCHING", rWatching, 1},
	{"NOT_IGNORED", rNotIgnored, 0},
	{"RESERVED", rReserved, 2},
	{"DEADLINE_SOON", rDeadlineSoon, 0},
	{"TIMED_OUT", rTimedOut, 0},
	{"DELETED", rDeleted, 0},
	{"RELEASED", rReleased, 0},
	{"TOUCHED", rTouched, 0},
	{"KICKED", rKicked, -2},
	{"FOUND", rFound, 2},
	{"OK", rOK, 1},
	{"NOT_FOUND", rNotFound, 0},
	{"JOB_TOO_BIG", rJobTooBig, 0},
	{"DRAINING", rDraining, 0},
	{"EXPECTED_CRLF", rExpectedCRLF, 0},
	{"OUT_OF_MEMORY", rOutOfMemory, 0},
	{"INTERNAL_ERROR", rInternalError, 0},
	{"BAD_FORMAT", rBadFormat, 0},
	{"UNKNOWN_COMMAND", rUnknownCommand, 0},
}

// reply is one parsed reply line. name aliases the read buffer and is only
// valid until the next read.
type reply struct {
	kind  replyKind
	nargs int
	a, b  uint64
	name  []byte
	line  []byte
}

// bodyLen returns the size of the data block that follows the line.
func (r *reply) bodyLen() (int, bool) {
	switch r.kind {
	case rReserved, rFound:
		return int(r.b), true
	case rOK:
		return int(r.a), true
	}
	return 0, false
}

// maxBody bounds a data block we accept to read (beanstalkd's -z maximum is
// far below).
const maxBody = 1 << 30

// parseReply parses one line ending in "\r\n".
func parseReply(line []byte) (reply, error) {
	r := reply{line: line}
	if len(line) < 2 || line[len(line)-2] != '\r' || line[len(line)-1] != '\n' {
		return r, fmt.Errorf("%w: reply %q not terminated by CRLF", ErrProtocol, line)
	}
	s := line[:len(line)-2]
	word := s
	var rest []byte
	if i := bytes.IndexByte(s, ' '); i >= 0 {
		word, rest = s[:i], s[i+1:]
	}
	spec := -1
	for i := range replyWords {
		if string(word) == replyWords[i].word {
			spec = i
			break
		}
	}
	if spec < 0 {
		return r, fmt.Errorf("%w: unknown reply %q", ErrProtocol, s)
	}
	r.kind = replyWords[spec].kind
	switch n := replyWords[spec].args; n {
	case -1:
		if len(rest) == 0 || bytes.IndexByte(rest, ' ') >= 0 {
			return r, fmt.Errorf("%w: bad reply %q", ErrProtocol, s)
		}
		r.name = rest
	case -2:
		if rest != nil {
			if !r.parseNums(rest, 1) {
				return r, fmt.Errorf("%w: bad reply %q", ErrProtocol, s)
			}
		}
	default:
		if !r.parseNums(rest, n) {
			return r, fmt.Errorf("%w: bad reply %q", ErrProtocol, s)
		}
	}
	if l, ok := r.bodyLen(); ok && (l < 0 || l > maxBody) {
		return r, fmt.Errorf("%w: body size in %q", ErrProtocol, s)
	}
	return r, nil
}

// parseNums parses exactly n space-separated numbers into a and b.
func (r *reply) parseNums(rest []byte, n int) bool {
	if n == 0 {
		return rest == nil
	}
	for i := 0; i < n; i++ {
		if rest == nil {
			return false
		}
		tok := rest
		rest = nil
		if j := bytes.IndexByte(tok, ' '); j >= 0 {
			tok, rest = tok[:j], tok[j+1:]
		}
		v, ok := parseUint(tok)
		if !ok {
			return false
		}
		if i == 0 {
			r.a = v
		} else {
			r.b = v
		}
		r.nargs++
	}
	return rest == nil
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// serverError maps a reply that is not the expected answer of op to an
// error; ok=false when the reply cannot be an answer to any request
// (the stream is out of step and the link must be dropped).
func serverError(op string, r *reply) (error, bool) {
	switch r.kind {
	case rNotFound:
		return ErrNotFound, true
	case rJobTooBig:
		return ErrJobTooBig, true
	case rDraining:
		return ErrDraining, true
	case rExpectedCRLF, rOutOfMemory, rInternalError, rBadFormat, rUnknownCommand:
		return &ServerError{Op: op, Reply: string(bytes.TrimRight(r.line, "\r\n"))}, true
	}
	return nil, false
}

// parseYAMLMap calls f for every "key: value" line of a stats body.
func parseYAMLMap(body []byte, f func(key, val string)) {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		f(string(bytes.TrimSpace(k)), string(bytes.TrimSpace(v)))
	}
}

// parseYAMLList returns the items of a "- item" list (list-tubes).
func parseYAMLList(body []byte) []string {
	var out []string
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if v, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("- ")); ok {
			out = append(out, string(v))
		}
	}
	return out
}

func atoi(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

func parseTubeStats(body []byte) TubeStats {
	var t TubeStats
	parseYAMLMap(body, func(k, v string) {
		switch k {
		case "name":
			t.Name = v
		case "current-jobs-urgent":
			t.Urgent = atoi(v)
		case "current-jobs-ready":
			t.Ready = atoi(v)
		case "current-jobs-reserved":
			t.Reserved = atoi(v)
		case "current-jobs-delayed":
			t.Delayed = atoi(v)
		case "current-jobs-buried":
			t.Buried = atoi(v)
		case "total-jobs":
			t.TotalJobs = atoi(v)
		case "current-using":
			t.Using = atoi(v)
		case "current-watching":
			t.Watching = atoi(v)
		case "current-waiting":
			t.Waiting = atoi(v)
		case "cmd-delete":
			t.Deletes = atoi(v)
		case "pause":
			t.Pause = atoi(v)
		case "pause-time-left":
			t.PauseTimeLeft = atoi(v)
		}
	})
	return t
}

func parseJobStats(body []byte) JobStats {
	var j JobStats
	parseYAMLMap(body, func(k, v string) {
		switch k {
		case "id":
			j.ID = uint64(atoi(v))
		case "tube":
			j.Tube = v
		case "state":
			j.State = v
		case "pri":
			j.Pri = uint32(atoi(v))
		case "age":
			j.Age = atoi(v)
		case "delay":
			j.Delay = atoi(v)
		case "ttr":
			j.TTR = atoi(v)
		case "time-left":
			j.TimeLeft = atoi(v)
		case "reserves":
			j.Reserves = atoi(v)
		case "timeouts":
			j.Timeouts = atoi(v)
		case "releases":
			j.Releases = atoi(v)
		case "buries":
			j.Buries = atoi(v)
		case "kicks":
			j.Kicks = atoi(v)
		}
	})
	return j
}
