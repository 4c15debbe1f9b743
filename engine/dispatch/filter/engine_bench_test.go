package filter

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"

	"medispatcher/engine/dispatch/message"
)

// The engine was chosen on these benchmarks, run on the same expressions
// and body against google/cel-go as well (that half left with its module;
// both results are in BENCHMARKS.md, "Content filters"): expr evaluates
// every expression in one allocation and compiles in half the time.

// BenchmarkFilterMatch is the cost of one evaluation on a decoded body
// (the decoding itself: BenchmarkDecodeValue).
func BenchmarkFilterMatch(b *testing.B) {
	body := orderBody(b)
	for _, src := range []string{
		`body.amount > 100`,
		`body.status == "paid" && sender == "shop"`,
		`body.kind in ["a", "b", "c"]`,
		`body.sku startsWith "AB"`,
	} {
		b.Run(src, func(b *testing.B) {
			f, err := Compile(src)
			require.NoError(b, err)
			env := NewEnv()
			env.Set("order_paid", "shop", body)
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := f.Match(env); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkDecodeValue is the once-per-message cost of a topic with
// filters: the body decoded for them.
func BenchmarkDecodeValue(b *testing.B) {
	body := msgp.AppendMapHeader(nil, 4)
	for _, kv := range [][2]string{{"order_id", "A-1001"}, {"status", "paid"}, {"sku", "AB-77"}, {"kind", "b"}} {
		body = msgp.AppendString(body, kv[0])
		body = msgp.AppendString(body, kv[1])
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := message.DecodeValue(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile is the cost of one subscription change with a filter.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`body.status == "paid" && sender == "shop"`); err != nil {
			b.Fatal(err)
		}
	}
}
