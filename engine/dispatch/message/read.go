package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// kind is the msgpack family of a value, as far as this package cares.
type kind uint8

const (
	kindNil kind = iota
	kindBool
	kindInt
	kindUint
	kindFloat32
	kindFloat64
	kindStr
	kindBin
	kindArray
	kindMap
	kindExt
)

var kindNames = [...]string{
	kindNil:     "nil",
	kindBool:    "bool",
	kindInt:     "int",
	kindUint:    "uint",
	kindFloat32: "float32",
	kindFloat64: "float64",
	kindStr:     "str",
	kindBin:     "bin",
	kindArray:   "array",
	kindMap:     "map",
	kindExt:     "ext",
}

func (k kind) String() string { return kindNames[k] }

// head is one decoded msgpack header. Scalars carry their value; str, bin
// and ext carry their payload (aliasing the input); arrays and maps carry
// their element count, and their elements follow in the input. It is kept
// small (one word for every numeric value) because it is returned by value
// for every msgpack item on the hot paths.
type head struct {
	data  []byte // str, bin, ext payload
	bits  uint64 // int, uint, float64 bits (float32 widened exactly), count
	kind  kind
	ext   int8 // kindExt type
	truth bool // kindBool
}

func (h *head) int() int64     { return int64(h.bits) }
func (h *head) uint() uint64   { return h.bits }
func (h *head) float() float64 { return math.Float64frombits(h.bits) }
func (h *head) count() int     { return int(h.bits) }

// errShort reports input that ends inside a value.
var errShort = errors.New("unexpected end of data")

// prefixError is a lead byte that starts no msgpack value (0xc1). A byte
// fits an interface without allocating, so the decode path stays free of
// garbage until an error is actually formatted.
type prefixError byte

func (e prefixError) Error() string { return fmt.Sprintf("invalid msgpack prefix 0x%02x", byte(e)) }

// kindError is a value of the wrong msgpack family for a field.
type kindError struct {
	want string
	got  kind
}

func (e kindError) Error() string { return "want " + e.want + ", got " + e.got.String() }

// readHead reads the header of the next value of b into h and returns the
// rest of b: after the value for scalars, str, bin and ext; at the first
// element for arrays and maps. It never reads past len(b). h is an out
// parameter rather than a result so that the results fit in registers.
//
// The one-byte formats (fixint, fixmap, fixarray, fixstr, nil, bool), most
// of every message, are decoded here; each wider family has its own step.
func readHead(h *head, b []byte) (rest []byte, err error) {
	*h = head{}
	if len(b) == 0 {
		return b, errShort
	}
	lead := b[0]
	switch {
	case lead <= 0x7f:
		h.kind, h.bits = kindInt, uint64(lead)
		return b[1:], nil
	case lead >= 0xe0:
		h.kind, h.bits = kindInt, uint64(int64(int8(lead)))
		return b[1:], nil
	case lead <= 0x8f:
		h.kind, h.bits = kindMap, uint64(lead&0x0f)
		return b[1:], nil
	case lead <= 0x9f:
		h.kind, h.bits = kindArray, uint64(lead&0x0f)
		return b[1:], nil
	case lead <= 0xbf:
		h.kind = kindStr
		h.data, rest, err = payload(b, 1, int(lead&0x1f))
		return rest, err
	}
	switch lead {
	case 0xc0:
		h.kind = kindNil
		return b[1:], nil
	case 0xc2, 0xc3:
		h.kind, h.truth = kindBool, lead == 0xc3
		return b[1:], nil
	case 0xc4, 0xc5, 0xc6:
		h.kind = kindBin
		h.data, rest, err = sized(b, lead-0xc4)
		return rest, err
	case 0xd9, 0xda, 0xdb:
		h.kind = kindStr
		h.data, rest, err = sized(b, lead-0xd9)
		return rest, err
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return readExt(h, b, lead)
	case 0xca, 0xcb:
		return readFloat(h, b, lead)
	case 0xcc, 0xcd, 0xce, 0xcf:
		return readUint(h, b, lead)
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return readInt(h, b, lead)
	case 0xdc, 0xdd, 0xde, 0xdf:
		return readCount(h, b, lead)
	}
	return b, prefixError(lead)
}

// readExt reads an ext header: ext 8/16/32 (0xc7-0xc9) carry a length field
// of 1, 2 or 4 bytes; fixext 1-16 (0xd4-0xd8) a payload of 1<<(lead-0xd4).
func readExt(h *head, b []byte, lead byte) (rest []byte, err error) {
	h.kind = kindExt
	if lead >= 0xd4 {
		if len(b) < 2 {
			return b, errShort
		}
		h.ext = int8(b[1])
		h.data, rest, err = payload(b, 2, 1<<(lead-0xd4))
		return rest, err
	}
	w := 1 << (lead - 0xc7) // width of the length field
	if len(b) < 2+w {
		return b, errShort
	}
	h.ext = int8(b[1+w])
	h.data, rest, err = payload(b, 2+w, int(beUint(b[1:1+w])))
	return rest, err
}

// readFloat reads a float32 (0xca, widened exactly) or a float64 (0xcb).
func readFloat(h *head, b []byte, lead byte) (rest []byte, err error) {
	if lead == 0xca {
		if len(b) < 5 {
			return b, errShort
		}
		h.kind, h.bits = kindFloat32, math.Float64bits(float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))))
		return b[5:], nil
	}
	if len(b) < 9 {
		return b, errShort
	}
	h.kind, h.bits = kindFloat64, binary.BigEndian.Uint64(b[1:])
	return b[9:], nil
}

// readUint reads a uint 8/16/32/64 (0xcc-0xcf).
func readUint(h *head, b []byte, lead byte) (rest []byte, err error) {
	w := 1 << (lead - 0xcc)
	if len(b) < 1+w {
		return b, errShort
	}
	h.kind, h.bits = kindUint, beUint(b[1:1+w])
	return b[1+w:], nil
}

// readInt reads an int 8/16/32/64 (0xd0-0xd3), sign-extended to 64 bits.
func readInt(h *head, b []byte, lead byte) (rest []byte, err error) {
	w := 1 << (lead - 0xd0)
	if len(b) < 1+w {
		return b, errShort
	}
	h.kind = kindInt
	switch w {
	case 1:
		h.bits = uint64(int64(int8(b[1])))
	case 2:
		h.bits = uint64(int64(int16(binary.BigEndian.Uint16(b[1:]))))
	case 4:
		h.bits = uint64(int64(int32(binary.BigEndian.Uint32(b[1:]))))
	default:
		h.bits = binary.BigEndian.Uint64(b[1:])
	}
	return b[1+w:], nil
}

// readCount reads the element count of an array 16/32 (0xdc, 0xdd) or a
// map 16/32 (0xde, 0xdf); the elements follow.
func readCount(h *head, b []byte, lead byte) (rest []byte, err error) {
	w := 2 << (lead & 1) // 2 or 4 bytes
	if len(b) < 1+w {
		return b, errShort
	}
	h.kind, h.bits = kindArray, beUint(b[1:1+w])
	if lead >= 0xde {
		h.kind = kindMap
	}
	return b[1+w:], nil
}

// sized reads the payload of a str or bin whose length field is 1<<lw
// bytes wide.
func sized(b []byte, lw byte) (data, rest []byte, err error) {
	w := 1 << lw
	if len(b) < 1+w {
		return nil, b, errShort
	}
	return payload(b, 1+w, int(beUint(b[1:1+w])))
}

// payload takes the n bytes after an off-byte header (off <= len(b)).
func payload(b []byte, off, n int) (data, rest []byte, err error) {
	// n comes from at most 32 bits: compare without adding, so nothing can
	// overflow even where int is 32 bits wide.
	if n < 0 || len(b)-off < n {
		return nil, b, errShort
	}
	return b[off : off+n : off+n], b[off+n:], nil
}

// beUint reads a 1, 2, 4 or 8-byte big-endian unsigned integer.
func beUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	default:
		return binary.BigEndian.Uint64(b)
	}
}
