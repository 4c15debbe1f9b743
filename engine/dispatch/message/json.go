package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and maps may nest in a body given to
// AppendJSON (the body itself, if a container, is depth 1). It matches the
// nesting limit of encoding/json's decoder, so whatever we send a Go
// subscriber can still parse, and it bounds the work a hostile body can
// cause.
const MaxDepth = 10000

var (
	errTooDeep       = fmt.Errorf("nesting deeper than %d", MaxDepth)
	errUnsupported   = errors.New("NaN or infinite number has no JSON form")
	errBadTimestamp  = errors.New("invalid timestamp extension")
	errKeyType       = errors.New("map key is an array, map or extension")
	errTimeOutOfYear = errors.New("timestamp year outside [0,9999]")
	errInternal      = errors.New("internal error: value map out of step with body")
)

// AppendJSON appends the JSON subscribers receive for a msgpack-encoded
// body: byte for byte what Go's encoding/json.Marshal makes of the body
// decoded into interface{} values with every map, at any depth, turned into
// a map[string]interface{}. In detail:
//
//   - maps become objects with keys sorted bytewise; non-string keys are
//     formatted like fmt.Sprint (7 → "7", 1.5 → "1.5", true → "true", nil →
//     "<nil>"), bin keys are taken as strings, and array, map and extension
//     keys are an error. When two keys are equal after this conversion the
//     later pair wins, as with repeated assignment to a Go map;
//   - strings are escaped as encoding/json does with HTML escaping on
//     (<, >, & as \u003c \u003e \u0026; U+2028 and U+2029; short forms for
//     \n \r \t \" \\; other control characters as \u00XX, \b and \f
//     included, as the Go of the old daemon wrote them (encoding/json has
//     written \b and \f since Go 1.22); invalid UTF-8 as \ufffd);
//   - integers are exact; float64 and float32 are formatted as encoding/json
//     formats them (shortest, exponent form below 1e-6 and from 1e21, float32
//     with 32-bit precision); NaN and ±Inf are an error, as in encoding/json;
//   - bin becomes a base64 (standard, padded) string, as a []byte does;
//   - the msgpack timestamp extension (-1) becomes the RFC 3339 string a UTC
//     time.Time marshals to (an error outside years 0–9999); any other
//     extension becomes the base64 string of its data;
//   - an empty body (a job without one) is null.
//
// Arrays and maps may nest up to MaxDepth. Bytes after the first value are
// ignored. Every error wraps ErrMalformed; on error the returned slice is
// dst unchanged in length. It never panics, uses no reflection, and
// allocates only to grow dst.
func AppendJSON(dst []byte, body []byte) ([]byte, error) {
	if len(body) == 0 {
		return append(dst, "null"...), nil
	}
	e := jsonPool.Get().(*jsonEncoder)
	defer e.release()
	e.body = body
	n := len(dst)
	// Two passes: scan validates the whole body as decoding it into Go
	// values would and records where every map value ends; the writer then
	// visits pairs in key order without re-skipping anything, so a body
	// costs time linear in its size whatever its nesting.
	_, err := e.scan(body, 0)
	if err == nil {
		dst, _, err = e.value(dst, body)
	}
	if err != nil {
		return dst[:n], fmt.Errorf("%w: body to JSON: %v", ErrMalformed, err)
	}
	return dst, nil
}

// jsonEncoder holds the scratch space of one AppendJSON call; pooled, so a
// body costs no allocation once the pool is warm.
type jsonEncoder struct {
	body  []byte
	spans []valueSpan // every map value of body, in input order
	ents  []jsonEntry // pairs of the maps being written, innermost last
	keys  []byte      // text of non-string keys, innermost last
}

// valueSpan locates the value of one map pair in the body.
type valueSpan struct {
	start, end int // offsets in the body
	next       int // index of the next span after this value's own spans
}

// jsonEntry is one map pair: its key as text and its value still encoded.
type jsonEntry struct {
	key   []byte
	start int // offset of the value in the body
	pos   int // input position, so the later of two equal keys wins
}

// maxPooledSpans keeps one huge body from pinning its scratch space in the
// pool for the rest of the process's life.
const maxPooledSpans = 1 << 16

var jsonPool = sync.Pool{New: func() any { return new(jsonEncoder) }}

func (e *jsonEncoder) release() {
	if cap(e.spans) > maxPooledSpans || cap(e.ents) > maxPooledSpans || cap(e.keys) > 8*maxPooledSpans {
		return
	}
	e.body = nil
	e.spans, e.ents, e.keys = e.spans[:0], e.ents[:0], e.keys[:0]
	jsonPool.Put(e)
}

// scan checks the value at b, whose containers sit at the given depth,
// for everything that decoding it into Go values would reject (structure,
// nesting, key types, timestamps), appends a span for every map value, and
// returns the rest of b. Encoding-time failures (NaN, a year out of range)
// are left to the writer: a value overridden by a later equal key is never
// encoded, so they must not fail it.
func (e *jsonEncoder) scan(b []byte, depth int) ([]byte, error) {
	var h head
	rest, err := readHead(&h, b)
	if err != nil {
		return b, err
	}
	switch h.kind {
	case kindExt:
		if h.ext == -1 {
			_, err = timestamp(h.data)
		}
	case kindArray:
		if depth >= MaxDepth {
			return b, errTooDeep
		}
		for i := 0; i < h.count() && err == nil; i++ {
			rest, err = e.scan(rest, depth+1)
		}
	case kindMap:
		if depth >= MaxDepth {
			return b, errTooDeep
		}
		for i := 0; i < h.count() && err == nil; i++ {
			var k head
			if rest, err = readHead(&k, rest); err != nil {
				break
			}
			if k.kind == kindArray || k.kind == kindMap || k.kind == kindExt {
				return b, errKeyType
			}
			s := len(e.spans)
			e.spans = append(e.spans, valueSpan{start: len(e.body) - len(rest)})
			if rest, err = e.scan(rest, depth+1); err == nil {
				e.spans[s].end = len(e.body) - len(rest)
				e.spans[s].next = len(e.spans)
			}
		}
	}
	return rest, err
}

// value appends the JSON of the msgpack value at b, which scan has
// accepted, and returns the rest of b.
func (e *jsonEncoder) value(dst, b []byte) ([]byte, []byte, error) {
	var h head
	rest, err := readHead(&h, b)
	if err != nil {
		return dst, b, err
	}
	switch h.kind {
	case kindNil:
		dst = append(dst, "null"...)
	case kindBool:
		dst = strconv.AppendBool(dst, h.truth)
	case kindInt:
		dst = strconv.AppendInt(dst, h.int(), 10)
	case kindUint:
		dst = strconv.AppendUint(dst, h.uint(), 10)
	case kindFloat32:
		dst, err = appendJSONFloat(dst, h.float(), 32)
	case kindFloat64:
		dst, err = appendJSONFloat(dst, h.float(), 64)
	case kindStr:
		dst = appendJSONString(dst, h.data)
	case kindBin:
		dst = appendBase64(dst, h.data)
	case kindExt:
		dst, err = appendJSONExt(dst, &h)
	case kindArray:
		dst = append(dst, '[')
		for i := 0; i < h.count() && err == nil; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, rest, err = e.value(dst, rest)
		}
		dst = append(dst, ']')
	case kindMap:
		dst, rest, err = e.object(dst, rest, h.count())
	}
	return dst, rest, err
}

// firstSpan returns the index of the span of the first value of the map
// whose pairs start at b.
func (e *jsonEncoder) firstSpan(b []byte) (int, error) {
	var k head
	r, err := readHead(&k, b)
	if err != nil {
		return 0, err
	}
	start := len(e.body) - len(r)
	i, ok := slices.BinarySearchFunc(e.spans, start, func(s valueSpan, t int) int { return s.start - t })
	if !ok {
		return 0, errInternal
	}
	return i, nil
}

// object appends a JSON object for the n pairs at b, sorted by key, and
// returns the rest of b.
func (e *jsonEncoder) object(dst, b []byte, n int) ([]byte, []byte, error) {
	if n == 0 {
		return append(dst, '{', '}'), b, nil
	}
	si, err := e.firstSpan(b)
	if err != nil {
		return dst, b, err
	}
	start, keyStart := len(e.ents), len(e.keys)
	for i := 0; i < n; i++ {
		if si >= len(e.spans) {
			err = errInternal
			break
		}
		var key []byte
		if key, _, err = e.mapKey(b); err != nil {
			break
		}
		s := e.spans[si]
		e.ents = append(e.ents, jsonEntry{key: key, start: s.start, pos: i})
		b, si = e.body[s.end:], s.next
	}
	if err == nil {
		sortEntries(e.ents[start:])
		dst = append(dst, '{')
		first := true
		// e.ents may be reallocated by nested maps: index it, never hold a
		// sub-slice across the recursive call.
		for i := start; i < len(e.ents) && err == nil; i++ {
			if i+1 < len(e.ents) && bytes.Equal(e.ents[i].key, e.ents[i+1].key) {
				continue // a later pair with the same key wins
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, e.ents[i].key)
			dst = append(dst, ':')
			// Offsets are computed from what remains of the body, so the
			// value is handed over as a suffix of it.
			dst, _, err = e.value(dst, e.body[e.ents[i].start:])
		}
		dst = append(dst, '}')
	}
	clear(e.ents[start:]) // drop references to the body
	e.ents, e.keys = e.ents[:start], e.keys[:keyStart]
	return dst, b, err
}

// sortEntries orders pairs by key, equal keys in input order. Bodies are
// mostly small maps, where a direct insertion sort (stable, so equal keys
// keep their order) beats the generic sort's indirect comparisons.
func sortEntries(ents []jsonEntry) {
	if len(ents) > 12 {
		slices.SortFunc(ents, compareEntries)
		return
	}
	for i := 1; i < len(ents); i++ {
		if bytes.Compare(ents[i-1].key, ents[i].key) <= 0 {
			continue // already in place: the common case for sorted producers
		}
		x := ents[i]
		j := i - 1
		for j > 0 && bytes.Compare(ents[j-1].key, x.key) > 0 {
			j--
		}
		copy(ents[j+1:i+1], ents[j:i])
		ents[j] = x
	}
}

func compareEntries(a, b jsonEntry) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return a.pos - b.pos
}

// mapKey returns the text of the map key at b, as fmt.Sprint would print
// the decoded key, and the rest of b. String keys alias b; others are
// formatted into e.keys (earlier keys keep pointing at the old array if it
// grows, and its bytes never change while they are in use).
func (e *jsonEncoder) mapKey(b []byte) ([]byte, []byte, error) {
	var h head
	rest, err := readHead(&h, b)
	if err != nil {
		return nil, b, err
	}
	k := len(e.keys)
	switch h.kind {
	case kindStr, kindBin:
		return h.data, rest, nil
	case kindNil:
		e.keys = append(e.keys, "<nil>"...)
	case kindBool:
		e.keys = strconv.AppendBool(e.keys, h.truth)
	case kindInt:
		e.keys = strconv.AppendInt(e.keys, h.int(), 10)
	case kindUint:
		e.keys = strconv.AppendUint(e.keys, h.uint(), 10)
	case kindFloat32:
		e.keys = strconv.AppendFloat(e.keys, h.float(), 'g', -1, 32)
	case kindFloat64:
		e.keys = strconv.AppendFloat(e.keys, h.float(), 'g', -1, 64)
	default:
		return nil, b, errKeyType
	}
	return e.keys[k:len(e.keys):len(e.keys)], rest, nil
}

// appendJSONFloat formats f as encoding/json's float encoder does.
func appendJSONFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, errUnsupported
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 → e-9, as encoding/json writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// appendJSONExt writes an extension: a timestamp as a time.Time marshals
// (in UTC), anything else as base64 of its data like a []byte.
func appendJSONExt(dst []byte, h *head) ([]byte, error) {
	if h.ext != -1 {
		return appendBase64(dst, h.data), nil
	}
	t, err := timestamp(h.data)
	if err != nil {
		return dst, err
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, errTimeOutOfYear
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

// timestamp decodes the data of a msgpack timestamp extension (32, 64 or
// 96-bit form) as a UTC time.
func timestamp(d []byte) (time.Time, error) {
	var sec, nsec int64
	switch len(d) {
	case 4:
		sec = int64(beUint(d))
	case 8:
		v := beUint(d)
		sec, nsec = int64(v&(1<<34-1)), int64(v>>34)
	case 12:
		nsec, sec = int64(beUint(d[:4])), int64(beUint(d[4:]))
	default:
		return time.Time{}, errBadTimestamp
	}
	if nsec > 999999999 {
		return time.Time{}, errBadTimestamp
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// appendBase64 writes b as a JSON string of standard padded base64.
func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes encoding/json writes unescaped when HTML
// escaping is on.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString writes s as a JSON string exactly as encoding/json does
// with HTML escaping on.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
