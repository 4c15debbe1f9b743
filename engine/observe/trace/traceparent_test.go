package trace

import (
	"testing"

	"github.com/stretchr/testify/assert"
	oteltrace "go.opentelemetry.io/otel/trace"
)

const (
	exampleTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	exampleSpan  = "00f067aa0ba902b7"
	exampleTP    = "00-" + exampleTrace + "-" + exampleSpan + "-01"
)

func TestParentFromContext(t *testing.T) {
	cases := []struct {
		name, ctx string
		ok        bool
		sampled   bool
	}{
		{"whole context", exampleTP, true, true},
		{"not sampled", "00-" + exampleTrace + "-" + exampleSpan + "-00", true, false},
		{"inside JSON", `{"user":7,"traceparent":"` + exampleTP + `","x":"00-"}`, true, true},
		{"inside text", "req=abc traceparent=" + exampleTP + "; more", true, true},
		{"after a false start", "00-zz 00-" + exampleTrace + "-" + exampleSpan + "-01", true, true},
		{"all-zero trace id", "00-00000000000000000000000000000000-" + exampleSpan + "-01", false, false},
		{"all-zero span id", "00-" + exampleTrace + "-0000000000000000-01", false, false},
		{"upper-case trace id", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + exampleSpan + "-01", false, false},
		{"upper-case span id", "00-" + exampleTrace + "-00F067AA0BA902B7-01", false, false},
		{"other version", "01-" + exampleTrace + "-" + exampleSpan + "-01", false, false},
		{"short span id", "00-" + exampleTrace + "-00f067aa0ba902-01", false, false},
		{"part of a longer token", "x" + exampleTP, false, false},
		{"followed by more hex", exampleTP + "ab", false, false},
		{"none", `{"user":7}`, false, false},
		{"empty", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc, ok := ParentFromContext([]byte(c.ctx))
			assert.Equal(t, c.ok, ok)
			if !c.ok {
				return
			}
			assert.Equal(t, exampleTrace, sc.TraceID().String())
			assert.Equal(t, exampleSpan, sc.SpanID().String())
			assert.True(t, sc.IsRemote())
			assert.Equal(t, c.sampled, sc.IsSampled())
		})
	}
}

// TestParentFromContextAllocs: looking for a traceparent allocates
// nothing, whether the context holds one or not.
func TestParentFromContextAllocs(t *testing.T) {
	for _, ctx := range []string{`{"user":7,"trace":"00-12"}`, "", `{"traceparent":"` + exampleTP + `"}`} {
		b := []byte(ctx)
		allocs := testing.AllocsPerRun(100, func() { _, _ = ParentFromContext(b) })
		assert.Zero(t, allocs, "allocations looking in %q", ctx)
	}
}

func TestAppendTraceparent(t *testing.T) {
	sc, ok := ParentFromContext([]byte(exampleTP))
	assert.True(t, ok)
	assert.Equal(t, exampleTP, string(AppendTraceparent(nil, sc)))
	h, ok := parseTraceparent(exampleTP)
	assert.True(t, ok)
	assert.Equal(t, sc, h)
	_, ok = parseTraceparent(exampleTP + " ")
	assert.False(t, ok, "a header holds exactly one traceparent")
	assert.Equal(t, "00-00000000000000000000000000000000-0000000000000000-00", string(AppendTraceparent(nil, oteltrace.SpanContext{})))
}
