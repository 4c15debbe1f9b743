package farm

// ScanSeqTS reads the "seq" and "ts" members of the top-level JSON object
// msg (the message field of a push) without allocating. Other members are
// skipped whatever they hold. ok is false unless both are found as
// non-negative integers.
//
// encoding/json into a struct costs about ten times as much per push and
// allocates; the farm must never be what limits a benchmark.
func ScanSeqTS(msg []byte) (seq uint64, ts int64, ok bool) {
	i := skipWS(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return 0, 0, false
	}
	i++
	var haveSeq, haveTS bool
	for {
		i = skipWS(msg, i)
		if i >= len(msg) {
			return 0, 0, false
		}
		if msg[i] == '}' {
			return seq, ts, haveSeq && haveTS
		}
		if msg[i] == ',' {
			i = skipWS(msg, i+1)
		}
		if i >= len(msg) || msg[i] != '"' {
			return 0, 0, false
		}
		ks := i + 1
		ke := skipString(msg, i)
		if ke < 0 {
			return 0, 0, false
		}
		key := msg[ks : ke-1]
		i = skipWS(msg, ke)
		if i >= len(msg) || msg[i] != ':' {
			return 0, 0, false
		}
		i = skipWS(msg, i+1)
		switch string(key) { // no allocation: the compiler compares in place
		case "seq":
			v, n := parseUint(msg, i)
			if n == i {
				return 0, 0, false
			}
			seq, haveSeq, i = v, true, n
			continue
		case "ts":
			v, n := parseUint(msg, i)
			if n == i || v > 1<<63-1 {
				return 0, 0, false
			}
			ts, haveTS, i = int64(v), true, n
			continue
		}
		i = skipValue(msg, i)
		if i < 0 {
			return 0, 0, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the closing quote of the string
// starting at b[i] == '"', or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func parseUint(b []byte, i int) (uint64, int) {
	var v uint64
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 20 {
		v = v*10 + uint64(b[j]-'0')
		j++
	}
	// A fraction or exponent means it is not our integer.
	if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		return 0, i
	}
	return v, j
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	// number, true, false, null
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' {
		i++
	}
	return i
}
