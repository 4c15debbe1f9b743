package datalog

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ErrMalformedLine wraps every ParseLine error.
var ErrMalformedLine = errors.New("malformed datalog line")

// MaxLineSize bounds the lines NewScanner accepts: a base64-encoded job of
// the largest size beanstalkd can be configured for, with room for fields.
const MaxLineSize = 16 << 20

// Entry is one parsed line.
type Entry struct {
	Time     time.Time
	Category Category
	// Fields in line order, without the raw field.
	Fields []Field
	// Raw is the decoded raw= field; nil when the line has none.
	Raw []byte
}

// Field returns the value of the first field named key.
func (e *Entry) Field(key string) (string, bool) {
	for _, f := range e.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// NewScanner returns a line scanner over a DATA log file that accepts lines
// up to MaxLineSize (bufio.Scanner's default of 64 KiB is smaller than a
// large job in base64). Feed each Bytes() to ParseLine.
func NewScanner(r io.Reader) *bufio.Scanner {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	return s
}

// ParseLine parses one line, with or without its trailing newline. The
// returned Entry does not alias line.
func ParseLine(line []byte) (Entry, error) {
	var e Entry
	line = bytes.TrimSuffix(line, []byte{'\n'})
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return e, malformed("no category", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return e, fmt.Errorf("%w: timestamp: %v", ErrMalformedLine, err)
	}
	e.Time = t
	rest := line[sp+1:]
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		end = len(rest)
	}
	e.Category = Category(rest[:end])
	if !e.Category.valid() {
		return e, malformed("bad category", rest[:end])
	}
	rest = rest[end:]
	for len(rest) > 0 {
		if rest[0] != ' ' || len(rest) == 1 {
			return e, malformed("bad field separator", rest)
		}
		rest = rest[1:]
		eq := bytes.IndexByte(rest, '=')
		if eq <= 0 {
			return e, malformed("field without key", rest)
		}
		key := rest[:eq]
		for _, c := range key {
			if !isKeyByte(c) {
				return e, malformed("bad key", key)
			}
		}
		rest = rest[eq+1:]
		if string(key) == rawKey {
			if bytes.IndexByte(rest, ' ') >= 0 {
				return e, malformed("raw is not the last field", rest)
			}
			raw, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(rest))), rest)
			if err != nil {
				return e, fmt.Errorf("%w: raw: %v", ErrMalformedLine, err)
			}
			e.Raw = raw
			return e, nil
		}
		var val string
		if len(rest) > 0 && rest[0] == '"' {
			n := quotedLen(rest)
			if n < 0 {
				return e, malformed("unterminated quoted value", rest)
			}
			val, err = strconv.Unquote(string(rest[:n]))
			if err != nil {
				return e, fmt.Errorf("%w: value of %s: %v", ErrMalformedLine, key, err)
			}
			rest = rest[n:]
		} else {
			n := bytes.IndexByte(rest, ' ')
			if n < 0 {
				n = len(rest)
			}
			if n == 0 {
				return e, malformed("empty bare value", key)
			}
			val = string(rest[:n])
			rest = rest[n:]
		}
		e.Fields = append(e.Fields, Field{Key: string(key), Value: val})
	}
	return e, nil
}

// quotedLen returns the length of the Go double-quoted string at the start
// of b, quotes included, or -1 when it is not terminated.
func quotedLen(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func malformed(what string, near []byte) error {
	if len(near) > 40 {
		near = near[:40]
	}
	return fmt.Errorf("%w: %s near %q", ErrMalformedLine, what, near)
}
