package publish

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeRequest: the request decoders never panic; a request they
// refuse gets a 400, 413 or 422 with a code, and a message they accept has
// a topic and a body.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"topic":"t","body":{"a":[1,2.5,"x",null]},"sender":"s","priority":1,"delay":2,"context":"c","owl_context":"o"}`,
		`{"messages":[{"topic":"t","body":1},{"body":2},null,[]]}`,
		`{"topic":"t","body":1,"x":1}`, `{"messages":{}}`, `{"topic":"t","body":1e400}`, `{`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(p *problem) {
			require.Contains(t, []int{400, 413, 422}, p.status)
			require.NotEmpty(t, p.Code)
			require.NotEmpty(t, p.Message)
		}
		if m, p := decodeMessage(data, "body"); p != nil {
			check(p)
		} else {
			require.NotEmpty(t, m.Topic)
			require.NotNil(t, m.Body)
		}
		msgs, p := decodeBatch(data, 5)
		if p != nil {
			check(p)
			return
		}
		require.NotEmpty(t, msgs)
		require.LessOrEqual(t, len(msgs), 5)
		for i, raw := range msgs {
			if _, p := decodeMessage(raw, messageName(i)); p != nil {
				check(p)
			}
		}
	})
}
