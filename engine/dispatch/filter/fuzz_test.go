package filter

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"

	"medispatcher/engine/dispatch/message"
)

// FuzzFilter holds the body decoder filters see to its contract (it never
// panics, fails only with ErrMalformed, accepts every body the JSON
// encoder accepts, and returns plain JSON-shaped values), and Compile and
// Match to theirs: any source compiles or fails with an error, and a
// compiled filter runs on any decoded body without panicking.
func FuzzFilter(f *testing.F) {
	const src = `(body?.amount ?? 0) > 100 || body?.status == "paid"`
	f.Add(src, []byte{})
	f.Add(`body.kind in ["a", "b"]`, msgp.AppendString(nil, "plain"))
	f.Add(`body startsWith "b"`, msgp.AppendBytes(nil, []byte("bin")))
	m := msgp.AppendMapHeader(nil, 3)
	m = msgp.AppendString(m, "amount")
	m = msgp.AppendInt64(m, 150)
	m = msgp.AppendInt(m, 7)
	m = msgp.AppendArrayHeader(m, 2)
	m = msgp.AppendFloat32(m, 1.1)
	m = msgp.AppendNil(m)
	m = msgp.AppendString(m, "status")
	m = msgp.AppendString(m, "paid")
	f.Add(src, m)
	f.Add(`any(body["7"], # == nil) && sender != topic`, m)
	f.Add("body.amount >\n 1 +", m)
	env := NewEnv()
	f.Fuzz(func(t *testing.T, src string, body []byte) {
		v, err := message.DecodeValue(body)
		_, jerr := message.AppendJSON(nil, body)
		if err != nil {
			require.ErrorIs(t, err, message.ErrMalformed)
			require.Error(t, jerr, "a body the JSON encoder takes must decode")
			return
		}
		if _, merr := json.Marshal(v); merr != nil {
			require.Error(t, jerr, "only a body without JSON form (NaN, infinities) may fail to marshal: %v", merr)
		}
		flt, err := Compile(src)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		env.Set("t", "s", v)
		_, _ = flt.Match(env) // any outcome, never a panic
	})
}
