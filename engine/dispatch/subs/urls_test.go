package subs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseURLsAndPick(t *testing.T) {
	const (
		a = "http://a.example/hook"
		b = "https://b.example/hook?x=1"
		p = "http://prod.example/hook"
		q = "http://prod2.example/hook"
		s = "http://staging.example/hook"
	)
	tests := []struct {
		name string
		raw  string
		env  string
		want []string // candidates, in order; empty: Pick finds none
	}{
		{"single", a, "", []string{a}},
		{"several, blank lines and spaces", "\n  " + a + "  \n\n\t" + b + "\r\n", "", []string{a, b}},
		{"env unset ignores tagged", "[T_ENV:prod]" + p + "\n" + a, "", []string{a}},
		{"env matches tagged", "[T_ENV:prod]" + p + "\n" + a + "\n[T_ENV:prod] " + q, "prod", []string{p, q}},
		{"tag compared case-insensitively", "[t_env:PROD]" + p + "\n" + a, "Prod", []string{p}},
		{"env without matching tag uses untagged", "[T_ENV:staging]" + s + "\n" + a, "prod", []string{a}},
		{"only tagged, env unset", "[T_ENV:prod]" + p, "", nil},
		{"only tagged, other env", "[T_ENV:prod]" + p, "staging", nil},
		{"spaces inside the tag", "  [T_ENV: staging ]  " + s + "  \n" + a, "staging", []string{s}},
		{"empty field", " \n\n ", "prod", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseURLs(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, len(tt.want), len(set.Candidates(tt.env)))
			if len(tt.want) == 0 {
				u, ok := set.Pick(tt.env, 12345)
				assert.False(t, ok)
				assert.Empty(t, u)
				return
			}
			assert.Equal(t, tt.want, set.Candidates(tt.env))
			// The random number spreads over every candidate, in order.
			seen := map[string]bool{}
			for _, r := range []uint32{0, 1 << 30, 1 << 31, 3 << 30, ^uint32(0)} {
				u, ok := set.Pick(tt.env, r)
				require.True(t, ok)
				require.Contains(t, tt.want, u)
				seen[u] = true
			}
			assert.Len(t, seen, len(tt.want), "every candidate is reachable")
			first, _ := set.Pick(tt.env, 0)
			last, _ := set.Pick(tt.env, ^uint32(0))
			assert.Equal(t, tt.want[0], first)
			assert.Equal(t, tt.want[len(tt.want)-1], last)
		})
	}
}

func TestParseURLsErrors(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		contains []string
	}{
		{"no scheme", "a.example/hook", []string{"line 1", "scheme"}},
		{"ftp", "http://ok.example\n\nftp://a.example/x", []string{"line 3", `"ftp"`}},
		{"no host", "http:///path", []string{"line 1", "no host"}},
		{"unparsable", "http://a b.example/", []string{"line 1", "parse URL"}},
		{"unknown tag", "[ENV:prod]http://a.example", []string{"line 1", "T_ENV"}},
		{"unclosed tag", "[T_ENV:prod http://a.example", []string{"line 1", "T_ENV"}},
		{"empty env", "[T_ENV:]http://a.example", []string{"line 1", "empty environment"}},
		{"tag without URL", "[T_ENV:prod]", []string{"line 1"}},
		{"every bad line named", "x\nhttp://ok.example\ny", []string{"line 1", "line 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseURLs(tt.raw)
			require.Error(t, err)
			for _, c := range tt.contains {
				assert.Contains(t, err.Error(), c)
			}
			assert.Zero(t, set.Len())
		})
	}
}

func TestPickNilSet(t *testing.T) {
	var s *URLSet
	_, ok := s.Pick("", 1)
	assert.False(t, ok)
	assert.Zero(t, s.Len())
}

func TestPickAllocatesNothing(t *testing.T) {
	set, err := ParseURLs("http://a.example\nhttp://b.example\n[T_ENV:prod]http://p.example\n[T_ENV:prod]http://q.example")
	require.NoError(t, err)
	var r uint32
	allocs := testing.AllocsPerRun(1000, func() {
		r += 0x9e3779b9
		if _, ok := set.Pick("PROD", r); !ok {
			t.Fatal("no pick")
		}
		if _, ok := set.Pick("", r); !ok {
			t.Fatal("no pick")
		}
	})
	assert.Zero(t, allocs)
}
