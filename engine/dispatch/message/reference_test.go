package message

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// This file holds the reference AppendJSON is held to: the body decoded
// into plain Go values with msgp's readers (maps as map[string]any with
// fmt.Sprint keys, as the old daemon converted them), then encoding/json.
// It shares no code with the implementation.

var errRefKey = errors.New("reference: unsupported map key")

// refJSON is the slow, obviously-right AppendJSON.
func refJSON(body []byte) ([]byte, error) {
	if len(body) == 0 {
		return json.Marshal(nil)
	}
	v, _, err := refValue(body, 0)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	return oldControlEscapes(out), err
}

// oldControlEscapes rewrites the short escapes \b and \f that encoding/json
// writes since Go 1.22 into the \u0008 and \u000c the old daemon's Go
// wrote (only \t \n \r keep a short form; subscribers compare raw bytes).
func oldControlEscapes(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		switch b[i+1] {
		case 'b':
			out = append(out, `\u0008`...)
		case 'f':
			out = append(out, `\u000c`...)
		default:
			out = append(out, b[i], b[i+1])
		}
		i++
	}
	return out
}

// refValue decodes one msgpack value into the types a reflective decoder
// produces; containers at depth ≥ MaxDepth are refused like AppendJSON does.
func refValue(b []byte, depth int) (any, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.MapType:
		if depth >= MaxDepth {
			return nil, b, errors.New("reference: too deep")
		}
		n, o, err := msgp.ReadMapHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		m := map[string]any{}
		for i := uint32(0); i < n; i++ {
			var k string
			if k, o, err = refKey(o); err != nil {
				return nil, b, err
			}
			var v any
			if v, o, err = refValue(o, depth+1); err != nil {
				return nil, b, err
			}
			m[k] = v
		}
		return m, o, nil
	case msgp.ArrayType:
		if depth >= MaxDepth {
			return nil, b, errors.New("reference: too deep")
		}
		n, o, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		a := []any{}
		for i := uint32(0); i < n; i++ {
			var v any
			if v, o, err = refValue(o, depth+1); err != nil {
				return nil, b, err
			}
			a = append(a, v)
		}
		return a, o, nil
	case msgp.IntType:
		return wrap(msgp.ReadInt64Bytes(b))
	case msgp.UintType:
		return wrap(msgp.ReadUint64Bytes(b))
	case msgp.Float32Type:
		return wrap(msgp.ReadFloat32Bytes(b))
	case msgp.Float64Type:
		return wrap(msgp.ReadFloat64Bytes(b))
	case msgp.BoolType:
		return wrap(msgp.ReadBoolBytes(b))
	case msgp.NilType:
		o, err := msgp.ReadNilBytes(b)
		return nil, o, err
	case msgp.StrType:
		return wrap(msgp.ReadStringBytes(b))
	case msgp.BinType:
		v, o, err := msgp.ReadBytesZC(b)
		return append([]byte{}, v...), o, err
	case msgp.ExtensionType, msgp.TimeType, msgp.Complex64Type, msgp.Complex128Type:
		return refExt(b)
	}
	if len(b) == 0 {
		return nil, b, msgp.ErrShortBytes
	}
	return nil, b, msgp.InvalidPrefixError(b[0])
}

// refExt decodes a timestamp (-1) as a UTC time.Time and any other
// extension as its data bytes.
func refExt(b []byte) (any, []byte, error) {
	var typ int8
	switch {
	case len(b) >= 2 && b[0] >= 0xd4 && b[0] <= 0xd8:
		typ = int8(b[1])
	case len(b) >= 3 && b[0] == 0xc7:
		typ = int8(b[2])
	case len(b) >= 4 && b[0] == 0xc8:
		typ = int8(b[3])
	case len(b) >= 6 && b[0] == 0xc9:
		typ = int8(b[5])
	default:
		return nil, b, msgp.ErrShortBytes
	}
	if typ == -1 {
		return wrap(msgp.ReadTimeUTCBytes(b))
	}
	raw := msgp.RawExtension{Type: typ}
	o, err := msgp.ReadExtensionBytes(b, &raw)
	return append([]byte{}, raw.Data...), o, err
}

// refKey formats a map key as fmt.Sprint prints the decoded value.
func refKey(b []byte) (string, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.StrType:
		return msgp.ReadStringBytes(b)
	case msgp.BinType:
		v, o, err := msgp.ReadBytesZC(b)
		return string(v), o, err
	case msgp.MapType, msgp.ArrayType, msgp.ExtensionType, msgp.TimeType,
		msgp.Complex64Type, msgp.Complex128Type, msgp.InvalidType:
		return "", b, errRefKey
	}
	v, o, err := refValue(b, 0)
	return fmt.Sprint(v), o, err
}

func wrap[T any](v T, o []byte, err error) (any, []byte, error) { return v, o, err }
