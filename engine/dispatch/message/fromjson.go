package message

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"
)

var (
	errJSONSyntax = errors.New("invalid JSON")
	errJSONNumber = errors.New("number out of the float64 range")
)

// AppendMsgpackJSON appends the msgpack encoding of the one JSON value in
// js, as a msgpack producer would have encoded the same value: integers
// that fit int64 (or, when positive, uint64) become msgpack integers in
// their shortest form, every other number a float64; strings become str
// (escapes decoded, invalid UTF-8 replaced by U+FFFD as encoding/json
// does); objects become maps with string keys in the given order
// (duplicates kept: readers keep the last, as a Go map does); arrays,
// true, false and null their msgpack twins. Containers carry the shortest
// header for their size.
//
// js must be exactly one JSON value, surrounded by whitespace at most;
// arrays and objects may nest up to MaxDepth. On error, which wraps
// ErrMalformed and says where the input went wrong, the returned slice is
// dst unchanged in length. It never panics, uses no reflection and
// allocates only to grow dst and to parse numbers that are not integers
// (its scratch space is pooled).
func AppendMsgpackJSON(dst []byte, js []byte) ([]byte, error) {
	c := fromJSONPool.Get().(*fromJSON)
	defer c.release()
	// Two passes: the first validates the input and counts the elements of
	// every array and object (msgpack writes a container's size before its
	// elements); the second writes, taking the counts in the same order.
	c.js, c.emit, c.counts = js, false, c.counts[:0]
	if err := c.document(); err != nil {
		return dst, fmt.Errorf("%w: body JSON: %v", ErrMalformed, err)
	}
	c.emit, c.out, c.next = true, dst, 0
	if err := c.document(); err != nil {
		return dst, fmt.Errorf("%w: body JSON: %v", ErrMalformed, err)
	}
	return c.out, nil
}

// fromJSON is the state of one conversion.
type fromJSON struct {
	js     []byte
	pos    int
	depth  int
	emit   bool     // second pass: write to out
	counts []uint32 // elements of each container, in the order they open
	next   int      // second pass: index of the next container's count
	out    []byte
	str    []byte // a decoded string
}

var fromJSONPool = sync.Pool{New: func() any { return new(fromJSON) }}

func (c *fromJSON) release() {
	c.js, c.out = nil, nil
	if cap(c.counts) > 1<<16 {
		c.counts = nil
	}
	if cap(c.str) > 1<<16 {
		c.str = nil
	}
	fromJSONPool.Put(c)
}

func (c *fromJSON) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errJSONSyntax, c.pos, fmt.Sprintf(format, args...))
}

// document reads the one value of the input and checks nothing follows it.
func (c *fromJSON) document() error {
	c.pos, c.depth = 0, 0
	c.space()
	if err := c.value(); err != nil {
		return err
	}
	c.space()
	if c.pos != len(c.js) {
		return c.errorf("data after the value")
	}
	return nil
}

func (c *fromJSON) space() {
	for c.pos < len(c.js) {
		switch c.js[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *fromJSON) value() error {
	if c.pos >= len(c.js) {
		return c.errorf("unexpected end of input")
	}
	switch b := c.js[c.pos]; {
	case b == '{':
		return c.object()
	case b == '[':
		return c.array()
	case b == '"':
		if err := c.string(); err != nil {
			return err
		}
		if c.emit {
			c.out = msgp.AppendStringFromBytes(c.out, c.str)
		}
		return nil
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number()
	case b == 't':
		return c.literal("true", func(dst []byte) []byte { return msgp.AppendBool(dst, true) })
	case b == 'f':
		return c.literal("false", func(dst []byte) []byte { return msgp.AppendBool(dst, false) })
	case b == 'n':
		return c.literal("null", msgp.AppendNil)
	default:
		return c.errorf("unexpected character %q", b)
	}
}

func (c *fromJSON) literal(word string, write func([]byte) []byte) error {
	if len(c.js)-c.pos < len(word) || string(c.js[c.pos:c.pos+len(word)]) != word {
		return c.errorf("invalid literal")
	}
	c.pos += len(word)
	if c.emit {
		c.out = write(c.out)
	}
	return nil
}

// open enters a container: it checks the depth and returns the index of
// its count (first pass) or writes its header (second pass).
func (c *fromJSON) open(header func([]byte, uint32) []byte) (int, error) {
	if c.depth++; c.depth > MaxDepth {
		return 0, c.errorf("nesting deeper than %d", MaxDepth)
	}
	c.pos++
	if c.emit {
		if c.next >= len(c.counts) {
			return 0, errInternal
		}
		c.out = header(c.out, c.counts[c.next])
		c.next++
		return -1, nil
	}
	c.counts = append(c.counts, 0)
	return len(c.counts) - 1, nil
}

// element counts one more element of the container at idx (first pass).
func (c *fromJSON) element(idx int) {
	if idx >= 0 {
		c.counts[idx]++
	}
}

func (c *fromJSON) array() error {
	idx, err := c.open(msgp.AppendArrayHeader)
	if err != nil {
		return err
	}
	for more := c.first(']'); more; {
		c.space()
		if err := c.value(); err != nil {
			return err
		}
		c.element(idx)
		if more, err = c.after(']', "array"); err != nil {
			return err
		}
	}
	return nil
}

func (c *fromJSON) object() error {
	idx, err := c.open(msgp.AppendMapHeader)
	if err != nil {
		return err
	}
	for more := c.first('}'); more; {
		c.space()
		if c.pos >= len(c.js) || c.js[c.pos] != '"' {
			return c.errorf("expected a string key in an object")
		}
		if err := c.string(); err != nil {
			return err
		}
		if c.emit {
			c.out = msgp.AppendStringFromBytes(c.out, c.str)
		}
		c.space()
		if c.pos >= len(c.js) || c.js[c.pos] != ':' {
			return c.errorf("expected : after an object key")
		}
		c.pos++
		c.space()
		if err := c.value(); err != nil {
			return err
		}
		c.element(idx)
		if more, err = c.after('}', "object"); err != nil {
			return err
		}
	}
	return nil
}

// first reports whether a container just opened has an element: false
// when it closes at once (the close is consumed).
func (c *fromJSON) first(closer byte) bool {
	c.space()
	if c.pos < len(c.js) && c.js[c.pos] == closer {
		c.pos++
		c.depth--
		return false
	}
	return true
}

// after reads what follows an element: a comma (more is true) or the
// container's closer.
func (c *fromJSON) after(closer byte, what string) (more bool, err error) {
	c.space()
	if c.pos >= len(c.js) {
		return false, c.errorf("unexpected end of input in an %s", what)
	}
	switch c.js[c.pos] {
	case ',':
		c.pos++
		return true, nil
	case closer:
		c.pos++
		c.depth--
		return false, nil
	}
	return false, c.errorf("expected , or %c in an %s", closer, what)
}

// string decodes the string at pos into c.str (both passes: the first
// validates it).
func (c *fromJSON) string() error {
	c.pos++ // the opening quote
	c.str = c.str[:0]
	for {
		start := c.pos
		for c.pos < len(c.js) {
			b := c.js[c.pos]
			if b == '"' || b == '\\' || b < 0x20 || b >= utf8.RuneSelf {
				break
			}
			c.pos++
		}
		c.str = append(c.str, c.js[start:c.pos]...)
		if c.pos >= len(c.js) {
			return c.errorf("unterminated string")
		}
		switch b := c.js[c.pos]; {
		case b == '"':
			c.pos++
			return nil
		case b < 0x20:
			return c.errorf("control character %#02x in a string", b)
		case b == '\\':
			if err := c.escape(); err != nil {
				return err
			}
		default:
			r, n := utf8.DecodeRune(c.js[c.pos:])
			// An invalid byte becomes U+FFFD (r is RuneError, n is 1).
			c.str = utf8.AppendRune(c.str, r)
			c.pos += n
		}
	}
}

// escape decodes the escape sequence at pos.
func (c *fromJSON) escape() error {
	if c.pos+1 >= len(c.js) {
		return c.errorf("unterminated escape")
	}
	e := c.js[c.pos+1]
	c.pos += 2
	switch e {
	case '"', '\\', '/':
		c.str = append(c.str, e)
	case 'b':
		c.str = append(c.str, '\b')
	case 'f':
		c.str = append(c.str, '\f')
	case 'n':
		c.str = append(c.str, '\n')
	case 'r':
		c.str = append(c.str, '\r')
	case 't':
		c.str = append(c.str, '\t')
	case 'u':
		r, ok := c.hex4(c.pos)
		if !ok {
			return c.errorf("invalid \\u escape")
		}
		c.pos += 4
		if utf16.IsSurrogate(r) {
			// A valid pair is one rune; a lone half is U+FFFD, as
			// encoding/json decodes it.
			r2, ok := rune(0), false
			if c.pos+6 <= len(c.js) && c.js[c.pos] == '\\' && c.js[c.pos+1] == 'u' {
				r2, ok = c.hex4(c.pos + 2)
			}
			if p := utf16.DecodeRune(r, r2); ok && p != utf8.RuneError {
				r = p
				c.pos += 6
			} else {
				r = utf8.RuneError
			}
		}
		c.str = utf8.AppendRune(c.str, r)
	default:
		c.pos--
		return c.errorf("invalid escape \\%c", e)
	}
	return nil
}

func (c *fromJSON) hex4(at int) (rune, bool) {
	if at+4 > len(c.js) {
		return 0, false
	}
	var r rune
	for _, b := range c.js[at : at+4] {
		switch {
		case b >= '0' && b <= '9':
			b -= '0'
		case b >= 'a' && b <= 'f':
			b -= 'a' - 10
		case b >= 'A' && b <= 'F':
			b -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(b)
	}
	return r, true
}

// number reads a number with JSON's grammar,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and writes it as an
// integer when it is one that fits 64 bits, else as a float64.
func (c *fromJSON) number() error {
	start := c.pos
	integer := true
	if c.js[c.pos] == '-' {
		c.pos++
	}
	switch {
	case c.pos < len(c.js) && c.js[c.pos] == '0':
		c.pos++
	case c.pos < len(c.js) && c.js[c.pos] >= '1' && c.js[c.pos] <= '9':
		c.digits()
	default:
		return c.errorf("invalid number")
	}
	if c.pos < len(c.js) && c.js[c.pos] == '.' {
		integer = false
		c.pos++
		if c.digits() == 0 {
			return c.errorf("invalid number: no digit after the point")
		}
	}
	if c.pos < len(c.js) && (c.js[c.pos] == 'e' || c.js[c.pos] == 'E') {
		integer = false
		c.pos++
		if c.pos < len(c.js) && (c.js[c.pos] == '+' || c.js[c.pos] == '-') {
			c.pos++
		}
		if c.digits() == 0 {
			return c.errorf("invalid number: no digit in the exponent")
		}
	}
	text := c.js[start:c.pos]
	if integer {
		if neg, u, ok := parseInteger(text); ok && !neg {
			if u <= math.MaxInt64 {
				c.write(func(dst []byte) []byte { return msgp.AppendInt64(dst, int64(u)) })
			} else {
				c.write(func(dst []byte) []byte { return msgp.AppendUint64(dst, u) })
			}
			return nil
		} else if ok && u <= 1<<63 {
			c.write(func(dst []byte) []byte { return msgp.AppendInt64(dst, int64(-u)) })
			return nil
		}
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
		c.pos = start
		return fmt.Errorf("%w at offset %d: %s", errJSONNumber, start, text)
	}
	c.write(func(dst []byte) []byte { return msgp.AppendFloat64(dst, f) })
	return nil
}

// parseInteger reads a JSON integer's sign and magnitude; ok is false when
// the magnitude does not fit a uint64.
func parseInteger(text []byte) (neg bool, u uint64, ok bool) {
	if len(text) > 0 && text[0] == '-' {
		neg, text = true, text[1:]
	}
	for _, b := range text {
		d := uint64(b - '0')
		if u > (math.MaxUint64-d)/10 {
			return neg, 0, false
		}
		u = u*10 + d
	}
	return neg, u, true
}

func (c *fromJSON) write(f func([]byte) []byte) {
	if c.emit {
		c.out = f(c.out)
	}
}

func (c *fromJSON) digits() int {
	n := 0
	for c.pos < len(c.js) && c.js[c.pos] >= '0' && c.js[c.pos] <= '9' {
		c.pos++
		n++
	}
	return n
}
