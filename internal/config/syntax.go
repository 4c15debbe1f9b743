package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// absPath resolves p against base (the config file's directory), or the
// working directory when base is empty.
func absPath(base, p string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	if base != "" {
		return filepath.Join(base, p), nil
	}
	return filepath.Abs(p)
}

// parseAddrList splits a comma-separated list of host:port; detail is the
// first problem found, "" when the list is valid.
func parseAddrList(s string) (addrs []string, detail string) {
	if strings.TrimSpace(s) == "" {
		return nil, "empty"
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		a := strings.TrimSpace(part)
		if a == "" {
			return nil, "empty entry"
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, errDetail(err)
		}
		if host == "" {
			return nil, fmt.Sprintf("%q has no host", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Sprintf("%q: port must be 1-65535", a)
		}
		if seen[a] {
			return nil, fmt.Sprintf("%q is listed twice", a)
		}
		seen[a] = true
		addrs = append(addrs, a)
	}
	return addrs, ""
}

// parseListenAddr checks a listen address; an empty host (all interfaces)
// and port 0 (any free port) are allowed.
func parseListenAddr(s string) (host, detail string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errDetail(err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", "port must be 0-65535"
	}
	return host, ""
}

// errDetail is the reason of a net.AddrError without the address, which the
// FieldError already shows.
func errDetail(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tubeNameProblem checks beanstalkd's tube-name rules; a prefix (whole =
// false) may be empty and may start with '-' (it never starts a name).
func tubeNameProblem(s string, whole bool) string {
	if whole && s == "" {
		return "empty"
	}
	if len(s) > 200 {
		return "longer than 200 bytes"
	}
	if whole && s[0] == '-' {
		return "starts with -"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-+/;.$_()", c) >= 0 {
			continue
		}
		return fmt.Sprintf("character %q not allowed", c)
	}
	return ""
}

func gatewayProblem(gw string) string {
	if gw == "" {
		return ""
	}
	u, err := url.Parse(gw)
	if err != nil {
		return err.Error()
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "no host"
		}
		return ""
	case "smtp", "smtps":
		if u.Host == "" {
			return "no host"
		}
		return ""
	case "sendmail":
		return ""
	}
	return fmt.Sprintf("scheme %q not supported", u.Scheme)
}

// subscriptionFilePath is the path of a "file:<path>" SubscriptionSource,
// trimmed; ok is false for any other source and for an empty path.
func subscriptionFilePath(src string) (path string, ok bool) {
	rest, found := strings.CutPrefix(src, subscriptionFilePrefix)
	path = strings.TrimSpace(rest)
	return path, found && path != ""
}

// beyondLoopback reports whether a valid listen address listens beyond
// loopback; "" (off) and an invalid address do not.
func beyondLoopback(addr string) bool {
	if addr == "" {
		return false
	}
	host, detail := parseListenAddr(addr)
	return detail == "" && !isLoopback(host)
}
