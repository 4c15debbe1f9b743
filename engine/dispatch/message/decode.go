package message

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/tinylib/msgp/msgp"
)

// field is a known key of a job map.
type field uint8

const (
	fieldUnknown field = iota
	fieldTopic
	fieldBody
	fieldSender
	fieldTime
	fieldPriority
	fieldDelay
	fieldContext
	fieldOwlContext
	fieldOriginJobID
	fieldRetryTimes
	fieldLogID
	fieldSubscriptionID
)

// Field-level reasons, wrapped with ErrMalformed and the key by Decode.
var (
	errNegative   = errors.New("negative value")
	errOverflow   = errors.New("value out of range")
	errNotFinite  = errors.New("not a finite number")
	errNotNumeric = errors.New("not a numeric string")
	errMissingKey = errors.New(`missing or empty "msgKey"`)
	errNotMap     = errors.New("job is not a msgpack map")
	errMapShort   = errors.New("map ends early")
)

// Decode decodes a main-tube, channel or retry job into m (reset first).
//
// The job is a msgpack map. Keys match ASCII case-insensitively ("msgKey",
// "MsgKey" and "MSGKEY" are one field) and may be str or bin; keys of other
// types and unknown keys are skipped with their values. When a key appears
// twice the last value wins.
//
// Values:
//   - msgKey (required, non-empty), sender, context, owl_context: str or
//     bin; an empty string decodes as a nil slice.
//   - body: any msgpack value; m.Body holds its raw encoding.
//   - time: int, uint, float or a numeric string, finite.
//   - priority, delay (uint32), OriginJobId, LogId (uint64), RetryTimes
//     (int), SubscriptionId (int64): int, uint, float or a numeric string;
//     a fraction is truncated toward zero, a value outside the field's
//     range (a negative one for the unsigned fields) is an error.
//   - A nil value, and for the numeric fields an empty string, means the
//     field is absent: it is left (or reset to) zero. A nil body therefore
//     decodes as m.Body == nil, which encoders write back as nil.
//
// Bytes after the map are ignored: producers have never been asked to end
// the job exactly at the map, and a stray suffix says nothing about the
// message. Byte-slice fields of m alias data, which must not change while m
// is in use. Decode does not allocate unless it fails, and never panics;
// every error wraps ErrMalformed and names the key at fault. After an
// error m holds whatever came before the fault and must not be used.
func Decode(data []byte, m *Message) error {
	*m = Message{}
	var h head
	b, err := readHead(&h, data)
	if err == nil && h.kind != kindMap {
		err = errNotMap
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for i := 0; i < h.count(); i++ {
		if len(b) == 0 {
			return fmt.Errorf("%w: %d of %d pairs: %v", ErrMalformed, i, h.count(), errMapShort)
		}
		var kh head
		rest, err := readHead(&kh, b)
		if err != nil {
			return fmt.Errorf("%w: key %d: %v", ErrMalformed, i, err)
		}
		f := fieldUnknown
		if kh.kind == kindStr || kh.kind == kindBin {
			f = lookupField(kh.data)
		} else if kh.kind == kindArray || kh.kind == kindMap {
			// A composite key is not a field; step over its elements too.
			if rest, err = msgp.Skip(b); err != nil {
				return fmt.Errorf("%w: key %d: %v", ErrMalformed, i, err)
			}
		}
		if b, err = decodeField(m, f, rest); err != nil {
			if kh.kind != kindStr && kh.kind != kindBin {
				return fmt.Errorf("%w: key %d (%s): %v", ErrMalformed, i, kh.kind, err)
			}
			return fmt.Errorf("%w: key %q: %v", ErrMalformed, kh.data, err)
		}
	}
	if len(m.Topic) == 0 {
		return fmt.Errorf("%w: %v", ErrMalformed, errMissingKey)
	}
	return nil
}

// decodeField decodes the value at b into field f of m and returns the
// rest of b.
func decodeField(m *Message, f field, b []byte) ([]byte, error) {
	if f == fieldUnknown {
		return msgp.Skip(b)
	}
	if f == fieldBody {
		rest, err := msgp.Skip(b)
		if err != nil {
			return b, err
		}
		m.Body = b[: len(b)-len(rest) : len(b)-len(rest)]
		if len(m.Body) == 1 && m.Body[0] == 0xc0 {
			m.Body = nil
		}
		return rest, nil
	}
	var h head
	rest, err := readHead(&h, b)
	if err != nil {
		return b, err
	}
	switch f {
	case fieldTopic:
		m.Topic, err = stringValue(&h)
	case fieldSender:
		m.Sender, err = stringValue(&h)
	case fieldContext:
		m.Context, err = stringValue(&h)
	case fieldOwlContext:
		m.OwlContext, err = stringValue(&h)
	case fieldTime:
		m.Time, err = floatValue(&h)
	case fieldPriority:
		var u uint64
		u, err = uintValue(&h, math.MaxUint32)
		m.Priority = uint32(u)
	case fieldDelay:
		var u uint64
		u, err = uintValue(&h, math.MaxUint32)
		m.Delay = uint32(u)
	case fieldOriginJobID:
		m.OriginJobID, err = uintValue(&h, math.MaxUint64)
	case fieldLogID:
		m.LogID, err = uintValue(&h, math.MaxUint64)
	case fieldRetryTimes:
		var i int64
		i, err = intValue(&h, math.MinInt, math.MaxInt)
		m.RetryTimes = int(i)
	case fieldSubscriptionID:
		m.SubscriptionID, err = intValue(&h, math.MinInt64, math.MaxInt64)
	}
	if err != nil {
		// Every field rejects arrays and maps, so rest never points into
		// an unread composite on success.
		return b, err
	}
	return rest, nil
}

// lookupField maps a key to its field, ignoring ASCII case.
func lookupField(k []byte) field {
	switch len(k) {
	case 4:
		if asciiEqualFold(k, "body") {
			return fieldBody
		}
		if asciiEqualFold(k, "time") {
			return fieldTime
		}
	case 5:
		if asciiEqualFold(k, "delay") {
			return fieldDelay
		}
		if asciiEqualFold(k, "logid") {
			return fieldLogID
		}
	case 6:
		if asciiEqualFold(k, "msgkey") {
			return fieldTopic
		}
		if asciiEqualFold(k, "sender") {
			return fieldSender
		}
	case 7:
		if asciiEqualFold(k, "context") {
			return fieldContext
		}
	case 8:
		if asciiEqualFold(k, "priority") {
			return fieldPriority
		}
	case 10:
		if asciiEqualFold(k, "retrytimes") {
			return fieldRetryTimes
		}
	case 11:
		if asciiEqualFold(k, "owl_context") {
			return fieldOwlContext
		}
		if asciiEqualFold(k, "originjobid") {
			return fieldOriginJobID
		}
	case 14:
		if asciiEqualFold(k, "subscriptionid") {
			return fieldSubscriptionID
		}
	}
	return fieldUnknown
}

// asciiEqualFold reports whether k equals lower (all lower-case ASCII)
// ignoring ASCII case. Non-ASCII bytes must match exactly, so no Unicode
// folding ("K" as the Kelvin sign) can turn a foreign key into a field.
func asciiEqualFold(k []byte, lower string) bool {
	if len(k) != len(lower) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// stringValue returns a str or bin payload; nil means absent, and an empty
// string is returned as nil so that absent and empty compare equal.
func stringValue(h *head) ([]byte, error) {
	switch h.kind {
	case kindNil:
		return nil, nil
	case kindStr, kindBin:
		if len(h.data) == 0 {
			return nil, nil
		}
		return h.data, nil
	}
	return nil, kindError{"string", h.kind}
}

// floatValue returns a finite number from an int, uint, float or numeric
// string; nil and "" mean absent (0).
func floatValue(h *head) (float64, error) {
	var f float64
	switch h.kind {
	case kindNil:
		return 0, nil
	case kindInt:
		f = float64(h.int())
	case kindUint:
		f = float64(h.uint())
	case kindFloat32, kindFloat64:
		f = h.float()
	case kindStr, kindBin:
		if len(h.data) == 0 {
			return 0, nil
		}
		var err error
		// string(h.data) does not escape ParseFloat, so short numeric
		// strings are converted on the stack.
		if f, err = strconv.ParseFloat(string(h.data), 64); err != nil {
			return 0, errNotNumeric
		}
	default:
		return 0, kindError{"number", h.kind}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errNotFinite
	}
	return f, nil
}

// uintValue returns an unsigned integer no greater than max from an int,
// uint, float (truncated) or numeric string; nil and "" mean absent (0).
func uintValue(h *head, max uint64) (uint64, error) {
	var u uint64
	switch h.kind {
	case kindNil:
		return 0, nil
	case kindInt:
		if h.int() < 0 {
			return 0, errNegative
		}
		u = uint64(h.int())
	case kindUint:
		u = h.uint()
	case kindFloat32, kindFloat64:
		var err error
		if u, err = floatToUint(h.float()); err != nil {
			return 0, err
		}
	case kindStr, kindBin:
		if len(h.data) == 0 {
			return 0, nil
		}
		neg, v, ok, over := parseDecimal(h.data)
		switch {
		case !ok:
			var err error
			if u, err = parseFloatToUint(h.data); err != nil {
				return 0, err
			}
		case over:
			return 0, errOverflow
		case neg && v != 0:
			return 0, errNegative
		default:
			u = v
		}
	default:
		return 0, kindError{"number", h.kind}
	}
	if u > max {
		return 0, errOverflow
	}
	return u, nil
}

// intValue returns a signed integer within [min, max] from an int, uint,
// float (truncated) or numeric string; nil and "" mean absent (0).
func intValue(h *head, min, max int64) (int64, error) {
	var i int64
	switch h.kind {
	case kindNil:
		return 0, nil
	case kindInt:
		i = h.int()
	case kindUint:
		if h.uint() > math.MaxInt64 {
			return 0, errOverflow
		}
		i = int64(h.uint())
	case kindFloat32, kindFloat64:
		var err error
		if i, err = floatToInt(h.float()); err != nil {
			return 0, err
		}
	case kindStr, kindBin:
		if len(h.data) == 0 {
			return 0, nil
		}
		neg, v, ok, over := parseDecimal(h.data)
		switch {
		case !ok:
			f, err := strconv.ParseFloat(string(h.data), 64)
			if err != nil {
				return 0, errNotNumeric
			}
			if i, err = floatToInt(f); err != nil {
				return 0, err
			}
		case over || (neg && v > 1<<63) || (!neg && v > math.MaxInt64):
			return 0, errOverflow
		case neg:
			i = -int64(v) // v == 1<<63 wraps to math.MinInt64, as wanted
		default:
			i = int64(v)
		}
	default:
		return 0, kindError{"number", h.kind}
	}
	if i < min || i > max {
		return 0, errOverflow
	}
	return i, nil
}

// parseDecimal parses an optionally signed run of decimal digits; ok is
// false when s is anything else (a fraction, an exponent, garbage), so the
// caller can try it as a float. Unlike strconv.ParseUint it does not
// allocate an error for the strings it rejects.
func parseDecimal(s []byte) (neg bool, v uint64, ok, overflow bool) {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	if len(s) == 0 {
		return neg, 0, false, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return neg, 0, false, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
		}
		v = v*10 + d
	}
	return neg, v, true, overflow
}

// parseFloatToUint parses a numeric string with a fraction or exponent and
// truncates it.
func parseFloatToUint(s []byte) (uint64, error) {
	// string(s) does not escape ParseFloat, so short numeric strings are
	// converted on the stack.
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return 0, errNotNumeric
	}
	return floatToUint(f)
}

// floatToUint truncates f toward zero; it must be finite and fit a uint64.
func floatToUint(f float64) (uint64, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, errNotFinite
	case f <= -1:
		return 0, errNegative
	case f >= 1<<64:
		return 0, errOverflow
	case f < 0: // (-1, 0) truncates to zero
		return 0, nil
	}
	return uint64(f), nil
}

// floatToInt truncates f toward zero; it must be finite and fit an int64.
func floatToInt(f float64) (int64, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, errNotFinite
	case f >= 1<<63 || f < -(1<<63):
		return 0, errOverflow
	}
	return int64(f), nil
}
