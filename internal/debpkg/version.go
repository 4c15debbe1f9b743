package debpkg

import "strings"

// DebVersion is the Debian package version of a build stamp (the
// Makefile's VERSION, `git describe --tags --always --dirty`).
//
// A Debian version must start with a digit and may hold only letters,
// digits and ".+~" (a "-" would split off a Debian revision, a ":" an
// epoch). So a leading "v" before a digit is dropped ("v1.2.3" → "1.2.3"),
// a stamp that still does not start with a digit becomes "0~git<stamp>"
// ("db2fc79" → "0~gitdb2fc79", below any release), and every other
// character becomes "+" ("1.2.3-4-gabc-dirty" → "1.2.3+4+gabc+dirty",
// above 1.2.3, as later commits should be).
func DebVersion(stamp string) string {
	v := stamp
	if len(v) > 1 && v[0] == 'v' && isDigit(v[1]) {
		v = v[1:]
	}
	if v == "" || !isDigit(v[0]) {
		v = "0~git" + v
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r < 128 && (isDigit(byte(r)) || isLetter(byte(r))):
			return r
		case r == '.' || r == '+' || r == '~':
			return r
		}
		return '+'
	}, v)
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
