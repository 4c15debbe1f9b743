package trace

import (
	"bytes"

	oteltrace "go.opentelemetry.io/otel/trace"
)

// A W3C traceparent of version 00 is "00-<trace id>-<span id>-<flags>":
// 32, 16 and 2 lower-case hex digits, 55 bytes in all.
const (
	traceparentLen = 55
	traceIDAt      = 3
	spanIDAt       = 36
	flagsAt        = 53
)

var version00 = []byte("00-")

// ParentFromContext finds the W3C traceparent a message's context holds:
// anywhere in it, as the whole context or inside a JSON or text context
// (e.g. {"traceparent":"00-…"}), a version-00 traceparent whose ids are
// lower-case hex and not all zero, set apart from what surrounds it (no
// letter, digit or '-' right before or after). The first one found is
// returned as a remote span context. It allocates nothing, found or not.
func ParentFromContext(msgContext []byte) (oteltrace.SpanContext, bool) {
	for i := 0; ; {
		j := bytes.Index(msgContext[i:], version00)
		if j < 0 {
			return oteltrace.SpanContext{}, false
		}
		at := i + j
		if sc, ok := parseAt(msgContext, at); ok {
			return sc, true
		}
		i = at + 1
	}
}

// parseTraceparent parses a traceparent header: the whole value must be
// one traceparent.
func parseTraceparent(h string) (oteltrace.SpanContext, bool) {
	if len(h) != traceparentLen {
		return oteltrace.SpanContext{}, false
	}
	var b [traceparentLen]byte
	copy(b[:], h)
	return parseAt(b[:], 0)
}

// parseAt parses the traceparent starting at s[at:], which begins with
// "00-".
func parseAt(s []byte, at int) (oteltrace.SpanContext, bool) {
	if len(s)-at < traceparentLen || (at > 0 && wordByte(s[at-1])) ||
		(len(s) > at+traceparentLen && wordByte(s[at+traceparentLen])) {
		return oteltrace.SpanContext{}, false
	}
	p := s[at : at+traceparentLen]
	if p[spanIDAt-1] != '-' || p[flagsAt-1] != '-' {
		return oteltrace.SpanContext{}, false
	}
	var cfg oteltrace.SpanContextConfig
	var flags [1]byte
	if !decodeHex(cfg.TraceID[:], p[traceIDAt:spanIDAt-1]) || !decodeHex(cfg.SpanID[:], p[spanIDAt:flagsAt-1]) ||
		!decodeHex(flags[:], p[flagsAt:]) {
		return oteltrace.SpanContext{}, false
	}
	cfg.TraceFlags = oteltrace.TraceFlags(flags[0])
	cfg.Remote = true
	sc := oteltrace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}

// wordByte reports whether c would make a traceparent next to it part of
// a longer token.
func wordByte(c byte) bool {
	return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// decodeHex decodes lower-case hex src into dst (len(src) = 2·len(dst));
// upper case is refused, as the W3C format requires.
func decodeHex(dst, src []byte) bool {
	for i := range dst {
		hi, ok1 := hexVal(src[2*i])
		lo, ok2 := hexVal(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// AppendTraceparent appends sc as a W3C traceparent (version 00).
func AppendTraceparent(dst []byte, sc oteltrace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	dst = append(dst, version00...)
	dst = appendHex(dst, tid[:])
	dst = append(dst, '-')
	dst = appendHex(dst, sid[:])
	dst = append(dst, '-')
	return appendHex(dst, []byte{byte(sc.TraceFlags())})
}

func appendHex(dst, src []byte) []byte {
	for _, b := range src {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return dst
}
