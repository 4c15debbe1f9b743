package message

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type jsonCase struct {
	name    string
	body    []byte
	want    string // exact output; "" checks against the reference only
	wantErr bool
}

// the push body observed from the old daemon, nested map included.
var specBody = mmap(
	mstr("name"), mstr("Zoë <&> \"q\""),
	mint(7), mstr("int-key"),
	mstr("f"), mf64(0.1),
	mstr("big"), mint(12345678901234),
	mstr("nested"), mmap(mstr("b"), mbool(true), mstr("a"), marr(mint(1), mstr("x"), mnil())),
)

func jsonCases() []jsonCase {
	return []jsonCase{
		{name: "spec body", body: specBody,
			want: `{"7":"int-key","big":12345678901234,"f":0.1,"name":"Zoë \u003c\u0026\u003e \"q\"","nested":{"a":[1,"x",null],"b":true}}`},
		{name: "keys sort bytewise", body: mmap(mstr("z"), mint(1), mint(10), mint(2), mstr("_"), mint(3), mint(2), mint(4), mstr("A"), mint(5), mint(1), mint(6)),
			want: `{"1":6,"10":2,"2":4,"A":5,"_":3,"z":1}`},
		{name: "control chars", body: mstr("a\tb\nc\rd\x01e\x1f\x7f\"\\/"), want: `"a\tb\nc\rd\u0001e\u001f` + "\x7f" + `\"\\/"`},
		{name: "backspace formfeed", body: mstr("\b\f")}, // short forms in current encoding/json
		{name: "line separators", body: mstr("x\u2028y\u2029z"), want: `"x\u2028y\u2029z"`},
		{name: "emoji and accents", body: mstr("😀 é 中"), want: `"😀 é 中"`},
		{name: "invalid utf8", body: mstr("a\xffb\xc3"), want: `"a\ufffdb\ufffd"`},
		{name: "bin base64", body: mbin([]byte("\x00\x01binary\xff")), want: `"AAFiaW5hcnn/"`},
		{name: "empty bin", body: mbin([]byte{}), want: `""`},
		{name: "float32 1.1", body: mf32(1.1), want: `1.1`},
		{name: "negative zero", body: mf64(math.Copysign(0, -1)), want: `-0`},
		{name: "1e21", body: mf64(1e21), want: `1e+21`},
		{name: "1e20", body: mf64(1e20), want: `100000000000000000000`},
		{name: "1e-7", body: mf64(1e-7), want: `1e-7`},
		{name: "1e-6", body: mf64(1e-6), want: `0.000001`},
		{name: "float32 1e-7", body: mf32(1e-7), want: `1e-7`},
		{name: "float32 1e21", body: mf32(1e21), want: `1e+21`},
		{name: "float32 max", body: mf32(math.MaxFloat32)},
		{name: "float64 tiny", body: mf64(5e-324), want: `5e-324`},
		{name: "uint64 max", body: muint(math.MaxUint64), want: `18446744073709551615`},
		{name: "int64 min", body: mint(math.MinInt64), want: `-9223372036854775808`},
		{name: "negative fixint", body: mint(-5), want: `-5`},
		{name: "empty map", body: mmap(), want: `{}`},
		{name: "empty array", body: marr(), want: `[]`},
		{name: "empty string", body: mstr(""), want: `""`},
		{name: "bare number", body: mint(42), want: `42`},
		{name: "string body", body: mstr("plain string body"), want: `"plain string body"`},
		{name: "nil", body: mnil(), want: `null`},
		{name: "bool", body: mbool(false), want: `false`},
		{name: "map in array in array", body: mmap(mstr("e"), marr(mint(1), marr(mint(2), marr(mint(3), mmap(mstr("f"), mstr("g")))))),
			want: `{"e":[1,[2,[3,{"f":"g"}]]]}`},
		{name: "maps in arrays in maps", body: marr(mmap(mint(2), mmap(mint(1), marr(mmap(mstr("b"), mnil(), mstr("a"), mint(0)))))),
			want: `[{"2":{"1":[{"a":0,"b":null}]}}]`},
		{name: "scalar keys", body: mmap(mf64(1.5), mstr("a"), mf32(2.5), mstr("b"), mbool(true), mstr("c"), mnil(), mstr("d"), mf64(1e21), mstr("e"), mint(-1), mstr("f"), muint(math.MaxUint64), mstr("g")),
			want: `{"-1":"f","1.5":"a","18446744073709551615":"g","1e+21":"e","2.5":"b","\u003cnil\u003e":"d","true":"c"}`},
		{name: "NaN key", body: mmap(mf64(math.NaN()), mint(1), mf64(math.Inf(-1)), mint(2)), want: `{"-Inf":2,"NaN":1}`},
		{name: "bin key", body: mmap(mbin([]byte("k<")), mint(1)), want: `{"k\u003c":1}`},
		{name: "escaped keys", body: mmap(mstr("a\"b"), mint(1), mstr("\xff"), mint(2), mstr("\u2028"), mint(3))},
		{name: "duplicate keys last wins", body: mmap(mstr("a"), mint(1), mstr("b"), mint(2), mstr("a"), mint(3)), want: `{"a":3,"b":2}`},
		{name: "int and string key collide", body: mmap(mint(7), mstr("int"), mstr("7"), mstr("str")), want: `{"7":"str"}`},
		{name: "string and int key collide", body: mmap(mstr("7"), mstr("str"), mint(7), mstr("int")), want: `{"7":"int"}`},
		{name: "overridden NaN is fine", body: mmap(mstr("a"), mf64(math.NaN()), mstr("a"), mint(1)), want: `{"a":1}`},
		{name: "overridden bad key fails", body: mmap(mstr("a"), mmap(marr(), mint(1)), mstr("a"), mint(1)), wantErr: true},
		{name: "overridden bad timestamp fails", body: mmap(mstr("a"), mext(-1, []byte{1, 2, 3}), mstr("a"), mint(1)), wantErr: true},
		{name: "timestamp 64", body: mtime(time.Date(2024, 11, 25, 1, 2, 3, 456000000, time.UTC)), want: `"2024-11-25T01:02:03.456Z"`},
		{name: "timestamp 32", body: mtime(time.Unix(1732500000, 0)), want: `"2024-11-25T02:00:00Z"`},
		{name: "timestamp 96", body: mtime(time.Date(1900, 1, 2, 3, 4, 5, 6, time.UTC)), want: `"1900-01-02T03:04:05.000000006Z"`},
		{name: "timestamp year 10000", body: mtime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), wantErr: true},
		{name: "timestamp bad length", body: mext(-1, []byte{1, 2}), wantErr: true},
		{name: "timestamp bad nanos", body: mext(-1, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}), wantErr: true},
		{name: "other ext base64", body: mext(7, []byte{1, 2, 3}), want: `"AQID"`},
		{name: "empty ext", body: mext(9, nil), want: `""`},
		{name: "msgp time ext is opaque", body: mext(5, make([]byte, 12)), want: `"AAAAAAAAAAAAAAAA"`},
		{name: "NaN", body: mf64(math.NaN()), wantErr: true},
		{name: "+Inf", body: mf64(math.Inf(1)), wantErr: true},
		{name: "float32 -Inf in map", body: mmap(mstr("x"), mf32(float32(math.Inf(-1)))), wantErr: true},
		{name: "array key", body: mmap(marr(mint(1)), mint(1)), wantErr: true},
		{name: "map key", body: mmap(mmap(), mint(1)), wantErr: true},
		{name: "ext key", body: mmap(mext(3, []byte{1}), mint(1)), wantErr: true},
		{name: "truncated map", body: mmap(mstr("a"), mint(1))[:3], wantErr: true},
		{name: "truncated string", body: mstr("hello")[:3], wantErr: true},
		{name: "invalid prefix", body: marr(mint(1), []byte{0xc1}), wantErr: true},
		{name: "map count beyond data", body: []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0, 0x01}, wantErr: true},
		{name: "trailing bytes ignored", body: cat(mint(1), []byte{0xc1, 0xff}), want: `1`},
		{name: "deepest arrays allowed", body: nested(MaxDepth)},
		{name: "arrays too deep", body: nested(MaxDepth + 1), wantErr: true},
		{name: "deepest maps allowed", body: nestedMaps(MaxDepth)},
		{name: "maps too deep", body: nestedMaps(MaxDepth + 1), wantErr: true},
	}
}

func TestAppendJSON(t *testing.T) {
	for _, tc := range jsonCases() {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("message=")
			got, err := AppendJSON(prefix, tc.body)
			ref, refErr := refJSON(tc.body)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrMalformed)
				assert.Equal(t, "message=", string(got), "dst must come back unchanged on error")
				require.Error(t, refErr, "the reference must fail too")
				return
			}
			require.NoError(t, err)
			require.NoError(t, refErr)
			assert.Equal(t, "message="+string(ref), string(got), "encoding/json reference")
			if tc.want != "" {
				assert.Equal(t, "message="+tc.want, string(got))
			}
			assert.True(t, json.Valid(got[len(prefix):]))
		})
	}
}

func TestAppendJSONEmptyBody(t *testing.T) {
	got, err := AppendJSON(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "null", string(got))
}

// The old daemon dropped this body (json: unsupported type); every depth
// of map-in-array must now encode.
func TestAppendJSONMapsAtAnyDepth(t *testing.T) {
	body := mmap(mstr("k"), mint(1))
	want := `{"k":1}`
	for depth := 1; depth <= 50; depth++ {
		body = marr(mint(int64(depth)), body)
		want = "[" + itoa(depth) + "," + want + "]"
		got, err := AppendJSON(nil, body)
		require.NoError(t, err, "depth %d", depth)
		require.Equal(t, want, string(got), "depth %d", depth)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestAppendJSONBigMap(t *testing.T) {
	// Enough pairs to leave insertion sort and to exercise scratch growth
	// across nested maps.
	var pairs [][]byte
	for i := 0; i < 500; i++ {
		pairs = append(pairs, mint(int64(i*7919%1000)), mmap(mstr("v"), mint(int64(i)), mint(int64(i)), marr(mstr("x"))))
	}
	body := mmap(pairs...)
	got, err := AppendJSON(nil, body)
	require.NoError(t, err)
	ref, err := refJSON(body)
	require.NoError(t, err)
	assert.Equal(t, string(ref), string(got))
}

func TestAppendJSONAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	dst := make([]byte, 0, 4096)
	var err error
	allocs := testing.AllocsPerRun(200, func() {
		dst, err = AppendJSON(dst[:0], typicalBody)
	})
	require.NoError(t, err)
	assert.Zero(t, allocs, "AppendJSON with a large enough dst must not allocate")
}

// Hostile nesting must stay cheap: each map level re-skips what it holds,
// so the worst case is quadratic in MaxDepth and bounded by it.
func TestAppendJSONDeepMapsBounded(t *testing.T) {
	start := time.Now()
	_, err := AppendJSON(nil, nestedMaps(MaxDepth))
	require.NoError(t, err)
	t.Logf("%d nested maps: %v", MaxDepth, time.Since(start))
}

// The old daemon's Go wrote \b and \f as \u0008 and \u000c; only \t \n \r
// keep a short form. Subscribers may compare raw bytes.
func TestAppendJSONControlCharactersAsTheOldDaemon(t *testing.T) {
	got, err := AppendJSON(nil, mstr("a\bb\fc\x01\t\n\r\\b"))
	require.NoError(t, err)
	require.Equal(t, `"a\u0008b\u000cc\u0001\t\n\r\\b"`, string(got))
}
