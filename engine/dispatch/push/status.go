package push

import "strconv"

// maxNestingDepth is encoding/json's limit: a deeper answer is an error for
// it, so it is a failure for us too.
const maxNestingDepth = 10000

// answerOK applies the success rule to a 200 answer: the body must be a
// JSON document that encoding/json accepts, its top level an object, and
// that object's member "status" (the last one, as a decoded map would keep)
// must be the number 1 (any spelling that parses to float64 1) or the
// string "1".
//
// The old daemon decoded the answer into an interface{} and looked the key
// up in the resulting map; this scanner gives the same verdict without
// building anything, so it validates the whole document (a syntax error or
// an out-of-range number anywhere makes Unmarshal fail) while it looks for
// the top-level key.
func answerOK(b []byte) bool {
	s := scanner{b: b}
	s.skipSpace()
	if s.i >= len(b) || b[s.i] != '{' {
		return false // valid or not, only an object can succeed
	}
	ok := s.topObject()
	if s.bad {
		return false
	}
	s.skipSpace()
	return s.i == len(b) && ok
}

// scanner walks one JSON document. bad is set on the first syntax error;
// every method returns early once it is set.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// expect consumes c after optional white space.
func (s *scanner) expect(c byte) {
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return
	}
	s.bad = true
}

// topObject scans the top-level object (s.i on its '{') and reports whether
// its last "status" member equals 1 or "1".
func (s *scanner) topObject() bool {
	s.i++
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return false
	}
	ok := false
	for !s.bad {
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			s.bad = true
			return false
		}
		key := s.str()
		s.expect(':')
		s.skipSpace()
		if s.bad {
			return false
		}
		if escapedEquals(key, "status") {
			ok = s.statusValue()
		} else {
			s.value(1)
		}
		if s.bad {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.b) {
			s.bad = true
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return ok
		default:
			s.bad = true
		}
	}
	return false
}

// statusValue scans the value of a top-level "status" member and reports
// whether it is 1 or "1".
func (s *scanner) statusValue() bool {
	if s.i >= len(s.b) {
		s.bad = true
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return escapedEquals(s.str(), "1")
	case c == '-' || (c >= '0' && c <= '9'):
		num := s.number()
		if s.bad {
			return false
		}
		if len(num) == 1 && num[0] == '1' {
			return true
		}
		// 1.0, 1e0, 10e-1, 0.99999999999999999999 … all decode to
		// float64(1); strconv decides exactly as encoding/json does.
		f, err := strconv.ParseFloat(string(num), 64)
		return err == nil && f == 1
	default:
		s.value(1)
		return false
	}
}

// value scans any value at nesting depth (the depth of its container).
func (s *scanner) value(depth int) {
	if s.i >= len(s.b) {
		s.bad = true
		return
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.container(depth+1, '}')
	case c == '[':
		s.container(depth+1, ']')
	case c == '"':
		s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	default:
		s.bad = true
	}
}

// container scans an object (end '}') or an array (end ']') whose opening
// byte is at s.i.
func (s *scanner) container(depth int, end byte) {
	if depth > maxNestingDepth {
		s.bad = true
		return
	}
	s.i++
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return
	}
	for !s.bad {
		s.skipSpace()
		if end == '}' {
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				s.bad = true
				return
			}
			s.str()
			s.expect(':')
			s.skipSpace()
		}
		if s.bad {
			return
		}
		s.value(depth)
		s.skipSpace()
		if s.bad || s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case end:
			s.i++
			return
		default:
			s.bad = true
		}
	}
}

func (s *scanner) literal(word string) {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return
	}
	s.bad = true
}

// str scans a string (s.i on its opening quote) and returns its raw
// contents, escapes not decoded. Invalid UTF-8 is accepted, as encoding/json
// does; raw control bytes and malformed escapes are not.
func (s *scanner) str() []byte {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			return raw
		case c < 0x20:
			s.bad = true
			return nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				s.bad = true
				return nil
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					s.bad = true
					return nil
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if unhex(h) < 0 {
						s.bad = true
						return nil
					}
				}
				s.i += 5
			default:
				s.bad = true
				return nil
			}
		default:
			s.i++
		}
	}
	s.bad = true
	return nil
}

// number scans a number with JSON's grammar and returns its text. A number
// that overflows float64 makes encoding/json's Unmarshal into interface{}
// fail, so it is a syntax error here; only an exponent or a very long
// integer part can overflow, so only those are parsed.
func (s *scanner) number() []byte {
	start := s.i
	b := s.b
	if b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && b[s.i] >= '1' && b[s.i] <= '9':
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	default:
		s.bad = true
		return nil
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return nil
		}
	}
	exp := false
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		exp = true
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return nil
		}
	}
	num := b[start:s.i]
	if exp || len(num) > 300 {
		if _, err := strconv.ParseFloat(string(num), 64); err != nil {
			s.bad = true
			return nil
		}
	}
	return num
}

// digits consumes one or more decimal digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == start {
		s.bad = true
		return false
	}
	return true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// escapedEquals reports whether the raw contents of a valid JSON string
// decode to want, which must be ASCII. Any non-ASCII byte or escape decodes
// to a non-ASCII rune (or U+FFFD), so it can never match.
func escapedEquals(raw []byte, want string) bool {
	j := 0
	for i := 0; i < len(raw); {
		var c byte
		if raw[i] != '\\' {
			c = raw[i]
			i++
		} else {
			switch e := raw[i+1]; e {
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'u':
				r := unhex(raw[i+2])<<12 | unhex(raw[i+3])<<8 | unhex(raw[i+4])<<4 | unhex(raw[i+5])
				if r >= 0x80 {
					return false
				}
				c = byte(r)
				i += 4
			default: // " \ /
				c = e
			}
			i += 2
		}
		if c >= 0x80 || j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}
