package message

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DecodeValue sees what the subscriber gets: the JSON encoding of the
// decoded value is AppendJSON's output, bin aside (a string to a filter,
// base64 in the JSON), NaN and infinities aside (no JSON form), and \b \f
// aside (the same characters, escaped the old daemon's way in the push).
func TestDecodeValueMatchesJSON(t *testing.T) {
	skip := map[string]bool{"bin base64": true, "empty bin": true, "backspace formfeed": true}
	for _, tc := range jsonCases() {
		t.Run(tc.name, func(t *testing.T) {
			v, err := DecodeValue(tc.body)
			want, jerr := AppendJSON(nil, tc.body)
			if jerr == nil {
				require.NoError(t, err)
			}
			if err != nil {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			got, merr := json.Marshal(v)
			if merr != nil || skip[tc.name] || jerr != nil {
				return
			}
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestDecodeValueTypes(t *testing.T) {
	body := mmap(
		mstr("i"), mint(-3), mstr("u"), muint(math.MaxUint64), mstr("f"), mf32(1.5),
		mstr("s"), mstr("x"), mstr("b"), mbin([]byte("AB-1")), mstr("n"), mnil(), mstr("t"), mbool(true),
		mint(7), marr(mint(1), mstr("two")), mstr("m"), mmap(mint(1), mstr("one")),
	)
	v, err := DecodeValue(body)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"i": int64(-3), "u": uint64(math.MaxUint64), "f": 1.5, "s": "x", "b": "AB-1", "n": nil, "t": true,
		"7": []any{int64(1), "two"}, "m": map[string]any{"1": "one"},
	}, v)

	v, err = DecodeValue(nil)
	require.NoError(t, err)
	assert.Nil(t, v)
}

func TestDecodeValueErrors(t *testing.T) {
	for name, body := range map[string][]byte{
		"truncated map":   mmap(mstr("a"), mint(1))[:3],
		"array key":       mmap(marr(mint(1)), mint(1)),
		"huge count":      []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0},
		"too deep":        nested(MaxDepth + 1),
		"bad timestamp":   mext(-1, []byte{1, 2}),
		"invalid prefix":  []byte{0xc1},
		"truncated array": marr(mint(1), mint(2))[:2],
	} {
		_, err := DecodeValue(body)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
}
