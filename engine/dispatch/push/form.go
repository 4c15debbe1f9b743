package push

// formKeep marks the bytes that form (query-component) encoding leaves as
// they are: the unreserved set A-Z a-z 0-9 - _ . ~, exactly what Go's
// url.QueryEscape keeps. The old daemon built its form with url.Values, and
// subscribers may compare or hash the raw field, so the encoding must match
// byte for byte.
var formKeep = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~" {
		t[c] = true
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

// appendFormEscape appends s form-encoded to dst: space as '+', unreserved
// bytes as they are, everything else as %XX with upper-case hex.
func appendFormEscape(dst, s []byte) []byte {
	// Grow once: the worst case triples the input.
	if free := cap(dst) - len(dst); free < len(s)*3 {
		n := len(dst) + len(s)*3
		grown := make([]byte, len(dst), n)
		copy(grown, dst)
		dst = grown
	}
	for i := 0; i < len(s); {
		// Copy runs of kept bytes in one append: JSON bodies are mostly
		// letters and digits.
		j := i
		for j < len(s) && formKeep[s[j]] {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		c := s[j]
		if c == ' ' {
			dst = append(dst, '+')
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
		i = j + 1
	}
	return dst
}
