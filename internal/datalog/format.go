package datalog

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// TimeLayout is the timestamp layout of a line: RFC 3339 with microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// rawKey names the final field carrying raw message bytes in base64.
const rawKey = "raw"

// Field is one key=value pair of a line.
type Field struct {
	Key   string
	Value string
}

// appendValue appends v bare when that is unambiguous, Go-quoted otherwise.
func appendValue(dst []byte, v string) []byte {
	if needsQuote(v) {
		return strconv.AppendQuote(dst, v)
	}
	return append(dst, v...)
}

// appendBytesValue is appendValue for a byte slice, without copying it into
// a string first (the hot path passes topics and JSON bodies).
func appendBytesValue(dst []byte, v []byte) []byte {
	return appendValue(dst, bytesView(v))
}

// bytesView returns b as a string sharing its memory. Only for immediate,
// read-only use: the string must not outlive b or be retained.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// needsQuote reports whether v cannot be written bare: it is empty, starts
// with a double quote, or holds a space, a control character, a rune that
// strconv.Quote would escape, or invalid UTF-8.
func needsQuote(v string) bool {
	if v == "" || v[0] == '"' {
		return true
	}
	i := 0
	// Fast path, eight bytes at a time: stop at the first word holding a
	// byte <= ' ', DEL or a non-ASCII byte, and decide from there.
	for ; i+8 <= len(v); i += 8 {
		x := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		if (x|(x-lsb*0x21)|hasZero(x^(lsb*0x7f)))&msb != 0 {
			break
		}
	}
	for i < len(v) {
		c := v[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZero sets the high bit of a byte of x that is zero. It may also set it
// for bytes >= 0x80 or after a borrow, but needsQuote only calls it where
// those already stop the fast path.
func hasZero(x uint64) uint64 { return x - lsb }

// appendKey appends " key=" with key reduced to the key alphabet; "raw" is
// reserved for the final base64 field and becomes "raw_".
func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ' ')
	if key == "" {
		dst = append(dst, '_')
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !isKeyByte(c) {
			c = '_'
		}
		dst = append(dst, c)
	}
	if key == rawKey {
		dst = append(dst, '_')
	}
	return append(dst, '=')
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

// appendRaw appends the final " raw=<base64>" field.
func appendRaw(dst []byte, raw []byte) []byte {
	dst = append(dst, " raw="...)
	return base64.StdEncoding.AppendEncode(dst, raw)
}

// appendMillis appends d as milliseconds with three decimals ("12.345ms").
func appendMillis(dst []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		dst = append(dst, '-')
		us = -us
	}
	dst = strconv.AppendInt(dst, us/1000, 10)
	frac := us % 1000
	dst = append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return append(dst, "ms"...)
}

// stamp caches the formatting of one second in one location: the date and
// time up to the seconds, the zone offset and the day. Lines within the same
// second only append the microseconds between them.
type stamp struct {
	sec    int64
	loc    *time.Location
	prefix []byte // 2026-11-25T14:03:07
	zone   []byte // +08:00 or Z
	day    int32
}

func newStamp(t time.Time) *stamp {
	return &stamp{
		sec:    t.Unix(),
		loc:    t.Location(),
		prefix: t.AppendFormat(nil, "2006-01-02T15:04:05"),
		zone:   t.AppendFormat(nil, "Z07:00"),
		day:    dayKey(t),
	}
}

// appendStamp appends t in TimeLayout using s, which must be t's second.
func (s *stamp) appendStamp(dst []byte, t time.Time) []byte {
	dst = append(dst, s.prefix...)
	us := t.Nanosecond() / 1000
	dst = append(dst, '.',
		byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
	return append(dst, s.zone...)
}

// dayKey numbers t's local calendar day (in t's location) as yyyymmdd.
func dayKey(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(y*10000 + int(m)*100 + d)
}
