package subs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// envTag starts a line that only applies when the daemon's RECEPTION_ENV is
// NAME: "[T_ENV:NAME]http://…". Compared case-insensitively.
const envTag = "[T_ENV:"

// URLSet is a subscription's parsed URL field: the untagged URLs and, per
// environment name, the URLs tagged for it. It is immutable; Pick neither
// allocates nor locks.
type URLSet struct {
	untagged []string
	tagged   []envURLs // in order of first appearance; few, scanned linearly
}

type envURLs struct {
	env  string
	urls []string
}

// ParseURLs parses a raw URL field: lines are trimmed, empty lines skipped,
// a line may start with a [T_ENV:NAME] tag, and every URL must be http or
// https with a host. The error names every bad line (1-based).
func ParseURLs(raw string) (URLSet, error) {
	var (
		set  URLSet
		errs []error
	)
	for n, line := range strings.Split(raw, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		env, u, err := parseURLLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d %q: %w", n+1, line, err))
			continue
		}
		if env == "" {
			set.untagged = append(set.untagged, u)
			continue
		}
		i := set.envIndex(env)
		if i < 0 {
			set.tagged = append(set.tagged, envURLs{env: env})
			i = len(set.tagged) - 1
		}
		set.tagged[i].urls = append(set.tagged[i].urls, u)
	}
	if len(errs) > 0 {
		return URLSet{}, errors.Join(errs...)
	}
	return set, nil
}

// parseURLLine splits a trimmed line into its tag's environment ("" when
// untagged) and its URL, and checks the URL.
func parseURLLine(line string) (env, u string, err error) {
	u = line
	if strings.HasPrefix(line, "[") {
		end := strings.IndexByte(line, ']')
		if len(line) < len(envTag) || !strings.EqualFold(line[:len(envTag)], envTag) || end < 0 {
			return "", "", errors.New("a line may only start with a [T_ENV:NAME] tag")
		}
		env = strings.TrimSpace(line[len(envTag):end])
		if env == "" {
			return "", "", errors.New("empty environment name in [T_ENV:] tag")
		}
		u = strings.TrimSpace(line[end+1:])
	}
	p, err := url.Parse(u)
	if err != nil {
		return "", "", fmt.Errorf("parse URL: %w", err)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return "", "", fmt.Errorf("URL scheme %q: must be http or https", p.Scheme)
	}
	if p.Host == "" {
		return "", "", errors.New("URL has no host")
	}
	return env, u, nil
}

func (s *URLSet) envIndex(env string) int {
	for i := range s.tagged {
		if strings.EqualFold(s.tagged[i].env, env) {
			return i
		}
	}
	return -1
}

// Len is the number of URLs, tagged or not.
func (s *URLSet) Len() int {
	if s == nil {
		return 0
	}
	n := len(s.untagged)
	for i := range s.tagged {
		n += len(s.tagged[i].urls)
	}
	return n
}

// Candidates returns the URLs Pick chooses from for env: the lines tagged
// for env when env is set and has any, otherwise the untagged lines. The
// slice is shared and must not be modified.
func (s *URLSet) Candidates(env string) []string {
	if s == nil {
		return nil
	}
	if env != "" {
		if i := s.envIndex(env); i >= 0 {
			return s.tagged[i].urls
		}
	}
	return s.untagged
}

// Pick returns one of the candidate URLs for env (see Candidates), chosen
// by the caller's random number r, or false when there is none (the
// caller drops the message with a warning).
func (s *URLSet) Pick(env string, r uint32) (string, bool) {
	c := s.Candidates(env)
	switch len(c) {
	case 0:
		return "", false
	case 1:
		return c[0], true
	}
	// Multiply-shift maps r onto [0, len) without a division.
	return c[uint64(r)*uint64(len(c))>>32], true
}
