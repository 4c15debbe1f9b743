package message

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
)

// fromJSONCases are JSON values and the exact msgpack a producer encodes
// them to.
func fromJSONCases() []struct {
	js   string
	want []byte
} {
	return []struct {
		js   string
		want []byte
	}{
		{`null`, mnil()},
		{` true `, mbool(true)},
		{`false`, mbool(false)},
		{`0`, mint(0)},
		{`-0`, mint(0)},
		{`127`, []byte{0x7f}},
		{`128`, mint(128)},
		{`-33`, mint(-33)},
		{`9223372036854775807`, mint(math.MaxInt64)},
		{`-9223372036854775808`, mint(math.MinInt64)},
		{`9223372036854775808`, muint(1 << 63)},
		{`18446744073709551615`, muint(math.MaxUint64)},
		{`18446744073709551616`, mf64(18446744073709551616)},
		{`-9223372036854775809`, mf64(-9223372036854775809)},
		{`1.5`, mf64(1.5)},
		{`1.0`, mf64(1)},
		{`1e3`, mf64(1000)},
		{`-2.5E-3`, mf64(-0.0025)},
		{`""`, mstr("")},
		{`"a\"b\\c\/d\b\f\n\r\t"`, mstr("a\"b\\c/d\b\f\n\r\t")},
		{`"\u00e9\u4e2d\ud83d\ude00<>&"`, mstr("é中😀<>&")},
		{`"\ud83d"`, mstr("\uFFFD")},
		{`"\ude00\ud83d x"`, mstr("\uFFFD\uFFFD x")},
		{"\"\xff\"", mstr("\uFFFD")},
		{`[]`, marr()},
		{`[1,"x",[null]]`, marr(mint(1), mstr("x"), marr(mnil()))},
		{`{}`, mmap()},
		{`{"b":1,"a":{"c":[]},"b":2}`, mmap(mstr("b"), mint(1), mstr("a"), mmap(mstr("c"), marr()), mstr("b"), mint(2))},
	}
}

func TestAppendMsgpackJSON(t *testing.T) {
	for _, tc := range fromJSONCases() {
		got, err := AppendMsgpackJSON([]byte("x"), []byte(tc.js))
		require.NoError(t, err, tc.js)
		require.Equal(t, "x"+string(tc.want), string(got), tc.js)
	}
	// Containers take the shortest header for their size.
	js := "[" + strings.Repeat("1,", 99999) + "1]"
	got, err := AppendMsgpackJSON(nil, []byte(js))
	require.NoError(t, err)
	require.Equal(t, msgp.AppendArrayHeader(nil, 100000), got[:5])
	require.Equal(t, byte(0xdc), mustConvert(t, "["+strings.Repeat("1,", 99)+"1]")[0], "array16")
}

func mustConvert(t *testing.T, js string) []byte {
	t.Helper()
	b, err := AppendMsgpackJSON(nil, []byte(js))
	require.NoError(t, err)
	return b
}

func TestAppendMsgpackJSONRefuses(t *testing.T) {
	for _, js := range []string{
		``, ` `, `nul`, `tru`, `[`, `[1,]`, `[1 2]`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1,}`,
		`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `NaN`, `1e400`, `-1e400`,
		`"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x01b\"", `1 2`, `{} x`, `"a"]`,
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	} {
		got, err := AppendMsgpackJSON([]byte("x"), []byte(js))
		require.ErrorIs(t, err, ErrMalformed, "%q", js)
		require.Equal(t, "x", string(got), "%q", js)
	}
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	_, err := AppendMsgpackJSON(nil, []byte(deep))
	require.NoError(t, err, "MaxDepth levels are allowed")
	_, err = AppendMsgpackJSON(nil, []byte(`[1, 2 x]`))
	require.ErrorContains(t, err, "offset 6")
}

// TestAppendMsgpackJSONAllocs: an integer-only body costs nothing beyond
// the output it grows.
func TestAppendMsgpackJSONAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	js := []byte(`{"order":{"id":12345678901,"items":[{"sku":"a-1","qty":2},{"sku":"b\u00e9","qty":-1}],"paid":true,"note":null}}`)
	dst := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := AppendMsgpackJSON(dst[:0], js); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// checkFromJSON holds AppendMsgpackJSON to encoding/json: it accepts what
// encoding/json decodes, and the body subscribers receive for its output
// is what encoding/json writes for the decoded value (numbers taken as
// integers when they are). The output is exactly one msgpack value.
func checkFromJSON(t *testing.T, js []byte) {
	got, err := AppendMsgpackJSON([]byte("x"), js)
	want, refErr := refFromJSON(js)
	if refErr != nil {
		require.ErrorIs(t, err, ErrMalformed, "encoding/json refused it: %v", refErr)
		require.Equal(t, "x", string(got))
		return
	}
	require.NoError(t, err, "encoding/json accepted it")
	rest, err := msgp.Skip(got[1:])
	require.NoError(t, err)
	require.Empty(t, rest)
	out, err := AppendJSON(nil, got[1:])
	require.NoError(t, err)
	require.Equal(t, string(want), string(out))
}

func refFromJSON(js []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(js, " \t\r\n"))) {
		return nil, strconv.ErrSyntax
	}
	v, err := refNumbers(v)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	return oldControlEscapes(out), err
}

// refNumbers turns json.Numbers into int64, uint64 or float64.
func refNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u, nil
		}
		return strconv.ParseFloat(string(x), 64)
	case []any:
		for i := range x {
			var err error
			if x[i], err = refNumbers(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			n, err := refNumbers(x[k])
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	}
	return v, nil
}

func FuzzMsgpackJSON(f *testing.F) {
	for _, tc := range fromJSONCases() {
		f.Add([]byte(tc.js))
	}
	f.Add([]byte(`{"topic":"a","body":{"x":[1,2.5,"<&>",null,{"y":true}]},"n":-12e-3}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		checkFromJSON(t, js)
	})
}
