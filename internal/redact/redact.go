// Package redact hides secrets in what the daemon shows or stores for
// people: the userinfo of URLs (logs, failure records, the DATA log, the
// admin API, medictl, alert texts), the values of secret configuration
// keys (configuration errors) and subscriptions' signing secrets (the
// admin API, medictl).
//
// The push itself always uses the full URL; only what is shown is
// redacted.
package redact

import "strings"

// Mask replaces a URL's password, or its whole userinfo when it has no
// password (a bare user part is usually a token).
const Mask = "xxxxx"

// URL returns s with the userinfo of every URL in it masked:
// "https://user:pass@host/p" becomes "https://user:xxxxx@host/p" (as
// net/url's Redacted) and "https://token@host/p" becomes
// "https://xxxxx@host/p". s may be a single URL, a subscription's
// multi-line URL field or any text quoting URLs (an error message). It
// returns s itself, without allocating, when there is nothing to mask, and
// costs one byte scan when s holds no '@'.
func URL(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	first, _, _ := nextUserinfo(s, 0)
	if first < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	for {
		start, end, colon := nextUserinfo(s, pos)
		if start < 0 {
			break
		}
		b.WriteString(s[pos:start])
		if colon >= 0 {
			b.WriteString(s[start : colon+1])
		}
		b.WriteString(Mask)
		pos = end // at the '@'
	}
	b.WriteString(s[pos:])
	return b.String()
}

// nextUserinfo finds the first URL userinfo at or after pos that is not
// masked yet: s[start:end] is the userinfo (end is its '@'), colon the
// index of its first ':' or -1; start is -1 when there is none.
func nextUserinfo(s string, pos int) (start, end, colon int) {
	for {
		a, at, next := nextAuthority(s, pos)
		if a < 0 {
			return -1, -1, -1
		}
		pos = next
		if at <= a { // no userinfo, or an empty one: nothing to hide
			continue
		}
		ui := s[a:at]
		c := strings.IndexByte(ui, ':')
		if isMasked(ui, c) {
			continue
		}
		if c >= 0 {
			c += a
		}
		return a, at, c
	}
}

// nextAuthority finds the first "://" at or after pos: a is where its
// authority starts (-1: none), at the index of the authority's last '@'
// (-1: none) and next where the authority ends.
func nextAuthority(s string, pos int) (a, at, next int) {
	i := strings.Index(s[pos:], "://")
	if i < 0 {
		return -1, -1, len(s)
	}
	a = pos + i + 3
	e := a
	for e < len(s) && !endsAuthority(s[e]) {
		e++
	}
	at = strings.LastIndexByte(s[a:e], '@')
	if at >= 0 {
		at += a
	}
	return a, at, e
}

// isMasked reports whether a userinfo (colon: the index of its first ':'
// or -1) is already masked.
func isMasked(ui string, colon int) bool {
	return ui == Mask || colon >= 0 && ui[colon+1:] == Mask
}

// endsAuthority reports whether c ends a URL's authority: the path, query
// or fragment starts, or the URL ends within text (a blank, or a character
// a userinfo cannot hold unescaped: '"', '`', '<', '>', '\'). Sub-delims
// such as ',' ';' and the single quote may be part of a password and do
// not end it.
func endsAuthority(c byte) bool {
	switch c {
	case '/', '?', '#', ' ', '\t', '\n', '\r', '"', '`', '<', '>', '\\':
		return true
	}
	return false
}

// Masked reports whether s holds a URL whose userinfo is masked as URL
// masks it (its password or its whole userinfo is Mask).
func Masked(s string) bool {
	if !strings.Contains(s, Mask+"@") {
		return false
	}
	for pos := 0; pos < len(s); {
		a, at, next := nextAuthority(s, pos)
		if a < 0 {
			return false
		}
		pos = next
		if at > a && isMasked(s[a:at], strings.IndexByte(s[a:at], ':')) {
			return true
		}
	}
	return false
}

// Unmask undoes URL on an edited copy of a multi-line URL field: each line
// of edited that is the masked form of a line of current becomes that line
// of current again, so that a client can send back what it was shown and
// keep the secrets it never saw. Lines are compared without their
// surrounding blanks. ok is false when a line still holds a masked URL
// that matches no line of current (the client must send the full URL).
func Unmask(edited, current string) (restored string, ok bool) {
	if !strings.Contains(edited, Mask+"@") {
		return edited, true
	}
	cur := strings.Split(current, "\n")
	lines := strings.Split(edited, "\n")
	ok = true
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !Masked(t) {
			continue
		}
		found := false
		for _, c := range cur {
			c = strings.TrimSpace(c)
			if c != t && URL(c) == t {
				lines[i], found = c, true
				break
			}
		}
		if !found {
			ok = false
		}
	}
	return strings.Join(lines, "\n"), ok
}

// secretWords mark a configuration key as secret when its last dotted
// part contains one (case-insensitively).
var secretWords = []string{"password", "passwd", "token", "secret", "apikey", "api_key"}

// SecretKey reports whether a configuration key holds a secret: its last
// dotted part ("Redis.Password" → "Password") contains Password, Token,
// Secret (or passwd, apikey, api_key), in any case.
func SecretKey(key string) bool {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	if key == "" {
		return false
	}
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
