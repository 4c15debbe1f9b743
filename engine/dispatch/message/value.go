package message

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
)

// DecodeValue decodes a msgpack body into the Go values a content filter
// sees, shaped like the JSON the subscriber receives (see AppendJSON):
// maps become map[string]any with keys as AppendJSON writes them (7 →
// "7", the later of two equal keys wins), arrays []any, integers int64 or
// uint64 (as encoded), floats float64 (a float32 as the decimal the JSON
// shows), strings and bin string, nil nil,
// the timestamp extension its RFC 3339 string, any other extension the
// base64 string of its data. An empty body is nil; bytes after the first
// value are ignored; nesting is bounded by MaxDepth.
//
// Unlike the rest of the package it allocates (the values it returns), so
// it is called only for messages a filter must look into. Every error
// wraps ErrMalformed; it never panics.
func DecodeValue(body []byte) (any, error) {
	if len(body) == 0 {
		return nil, nil
	}
	v, _, err := decodeValue(body, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: body value: %v", ErrMalformed, err)
	}
	return v, nil
}

// decodeValue decodes the value at b, whose containers sit at depth, and
// returns the rest of b.
func decodeValue(b []byte, depth int) (any, []byte, error) {
	var h head
	rest, err := readHead(&h, b)
	if err != nil {
		return nil, b, err
	}
	switch h.kind {
	case kindBool:
		return h.truth, rest, nil
	case kindInt:
		return h.int(), rest, nil
	case kindUint:
		return h.uint(), rest, nil
	case kindFloat32:
		return float32Value(h.float()), rest, nil
	case kindFloat64:
		return h.float(), rest, nil
	case kindStr, kindBin:
		return string(h.data), rest, nil
	case kindExt:
		return extValue(&h, rest)
	case kindArray, kindMap:
		if depth >= MaxDepth {
			return nil, b, errTooDeep
		}
		if h.count() > len(rest) {
			return nil, b, errShort // every element takes at least a byte
		}
		if h.kind == kindArray {
			return arrayValue(rest, h.count(), depth+1)
		}
		return mapValue(rest, h.count(), depth+1)
	}
	return nil, rest, nil // nil
}

// float32Value is the float64 of the decimal the JSON shows for a float32
// (1.1, not 1.100000023841858), so that a filter compares what the
// subscriber reads.
func float32Value(f float64) float64 {
	var buf [32]byte
	v, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], f, 'g', -1, 32)), 64)
	if err != nil {
		return f // NaN and infinities: no decimal, kept as they are
	}
	return v
}

// extValue is the string an extension becomes in the JSON.
func extValue(h *head, rest []byte) (any, []byte, error) {
	if h.ext != -1 {
		return base64.StdEncoding.EncodeToString(h.data), rest, nil
	}
	t, err := timestamp(h.data)
	if err != nil {
		return nil, rest, err
	}
	return t.Format(time.RFC3339Nano), rest, nil
}

func arrayValue(b []byte, n, depth int) (any, []byte, error) {
	a := make([]any, n)
	for i := range a {
		var err error
		if a[i], b, err = decodeValue(b, depth); err != nil {
			return nil, b, err
		}
	}
	return a, b, nil
}

func mapValue(b []byte, n, depth int) (any, []byte, error) {
	m := make(map[string]any, n)
	for range n {
		var (
			k   string
			v   any
			err error
		)
		if k, b, err = keyText(b); err != nil {
			return nil, b, err
		}
		if v, b, err = decodeValue(b, depth); err != nil {
			return nil, b, err
		}
		m[k] = v
	}
	return m, b, nil
}

// keyText is the text of the map key at b, as AppendJSON writes it.
func keyText(b []byte) (string, []byte, error) {
	var h head
	rest, err := readHead(&h, b)
	if err != nil {
		return "", b, err
	}
	switch h.kind {
	case kindStr, kindBin:
		return string(h.data), rest, nil
	case kindNil:
		return "<nil>", rest, nil
	case kindBool:
		return strconv.FormatBool(h.truth), rest, nil
	case kindInt:
		return strconv.FormatInt(h.int(), 10), rest, nil
	case kindUint:
		return strconv.FormatUint(h.uint(), 10), rest, nil
	case kindFloat32:
		return strconv.FormatFloat(h.float(), 'g', -1, 32), rest, nil
	case kindFloat64:
		return strconv.FormatFloat(h.float(), 'g', -1, 64), rest, nil
	}
	return "", b, errKeyType
}
