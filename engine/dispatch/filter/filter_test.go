package filter

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"

	"medispatcher/engine/dispatch/message"
)

// orderBody is a representative body, as a producer encodes it: integer
// keys and a nested list of maps included.
func orderBody(t testing.TB) any {
	items := []any{}
	for _, sku := range []string{"AB-77", "CD-1"} {
		items = append(items, map[string]any{"sku": sku, "qty": uint64(2)})
	}
	pairs := []any{
		"order_id", int64(900123456789), "amount", int64(150), "price", 99.5, "status", "paid",
		"sku", []byte("AB-77"), // bin: a string to the filter
		"kind", "b", int64(7), "seven", "items", items,
	}
	b := msgp.AppendMapHeader(nil, uint32(len(pairs)/2))
	for _, p := range pairs {
		var err error
		b, err = msgp.AppendIntf(b, p)
		require.NoError(t, err)
	}
	v, err := message.DecodeValue(b)
	require.NoError(t, err)
	return v
}

func match(t *testing.T, src string, body any) (bool, error) {
	t.Helper()
	f, err := Compile(src)
	require.NoError(t, err, src)
	env := NewEnv()
	env.Set("order_paid", "shop", body)
	return f.Match(env)
}

func TestMatch(t *testing.T) {
	body := orderBody(t)
	for src, want := range map[string]bool{
		`body.amount > 100`:                          true,
		`body.amount > 150`:                          false,
		`body.price >= 99.5 && body.price < 100`:     true,
		`body.status == "paid" && sender == "shop"`:  true,
		`body.status == "paid" && sender == "shop2"`: false,
		`body.kind in ["a", "b", "c"]`:               true,
		`body.kind not in ["a", "c"]`:                true,
		`body.amount in [100, 150]`:                  true,
		`body.sku startsWith "AB"`:                   true,
		`body.sku startsWith "CD"`:                   false,
		`body["7"] == "seven"`:                       true,
		`body.items[0].sku == "AB-77"`:               true,
		`body.items[1].qty == 2`:                     true,
		`any(body.items, .sku startsWith "CD")`:      true,
		`topic == "order_paid"`:                      true,
		`body.order_id == 900123456789`:              true,
		`body?.missing?.deeper == nil`:               true,
		`(body.discount ?? 0) > 10`:                  false,
		`"status" in body`:                           true,
		"body.amount > 100 &&\n  body.kind == \"b\"": true,
	} {
		got, err := match(t, src, body)
		require.NoError(t, err, src)
		assert.Equal(t, want, got, src)
	}
}

// An expression that cannot be evaluated on a message is an error, left to
// the caller: a missing key compared as a number, a body that is no map,
// a result that is no bool.
func TestMatchErrors(t *testing.T) {
	for src, body := range map[string]any{
		`body.missing > 100`:            orderBody(t),
		`body.amount > 100`:             "a plain string body",
		`body.status startsWith "p"`:    map[string]any{"status": int64(3)},
		`body.flag`:                     map[string]any{"flag": "yes"},
		`body.items[5].sku == "x"`:      orderBody(t),
		`body.amount + body.status > 1`: orderBody(t),
	} {
		_, err := match(t, src, body)
		require.Error(t, err, src)
		assert.Contains(t, err.Error(), "evaluate filter", src)
	}
}

func TestCompileErrors(t *testing.T) {
	for src, want := range map[string]string{
		`body.amount >`:                   "column ",
		`body.amount > 100 &&`:            "column ",
		`unknown_name == 1`:               "column 1: unknown name unknown_name",
		`topic + 1`:                       "column ",
		`sender`:                          "expected bool",
		`body.amount`:                     "", // type known per message only: accepted
		"body.amount > 1 &&\n  nope == 2": "line 2, column 3: unknown name nope",
		`"a" startsWith 1`:                "column ",
		strings.Repeat("x", MaxSource+1):  "at most 4096",
	} {
		_, err := Compile(src)
		if want == "" {
			require.NoError(t, err, src)
			continue
		}
		require.Error(t, err, src)
		assert.Contains(t, err.Error(), want, src)
		assert.NotContains(t, err.Error(), "\n", "one line for a log and an API answer")
	}
}

func TestSource(t *testing.T) {
	f, err := Compile(`body.amount > 1`)
	require.NoError(t, err)
	assert.Equal(t, `body.amount > 1`, f.Source())
}
