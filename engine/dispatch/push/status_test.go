package push

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// refAnswerOK is the old daemon's rule: decode into interface{}, look the
// key up in the map, accept float64 1 or the string "1".
func refAnswerOK(b []byte) bool {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return false
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	switch s := m["status"].(type) {
	case float64:
		return s == 1
	case string:
		return s == "1"
	}
	return false
}

var statusCases = []struct {
	in   string
	want bool
}{
	{`{"status":1}`, true},
	{` {"status" : 1 } `, true},
	{"\t\r\n{\"status\":1}\n", true},
	{`{"status":"1"}`, true},
	{`{"status":1.0}`, true},
	{`{"status":1e0}`, true},
	{`{"status":10E-1}`, true},
	{`{"status":0.1e1}`, true},
	{`{"status":1.00000000000000000001}`, true},
	{`{"status":0.99999999999999999999}`, true},
	{`{"st\u0061tus":"\u0031"}`, true},
	{`{"a":{"status":0},"b":[1,{"status":2}],"status":1}`, true},
	{`{"s\"x":"\"","status":1,"t":"}"}`, true},
	{`{"status":0,"status":1}`, true},
	{`{"status":1,"status":0}`, false},
	{`{"status":1,"status":null}`, false},
	{`{"status":0}`, false},
	{`{"status":"0"}`, false},
	{`{"status":" 1"}`, false},
	{`{"status":"1.0"}`, false},
	{`{"status":true}`, false},
	{`{"status":[1]}`, false},
	{`{"status":{"status":1}}`, false},
	{`{"status":-1}`, false},
	{`{"status":2}`, false},
	{`{"Status":1}`, false},
	{`{"status ":1}`, false},
	{`{"a":{"status":1}}`, false},
	{`{}`, false},
	{`[{"status":1}]`, false},
	{`1`, false},
	{`"status"`, false},
	{``, false},
	{`{"status":1`, false},
	{`{"status":1}x`, false},
	{`{"status":1} {}`, false},
	{`{"status":1,}`, false},
	{`{"status":01}`, false},
	{`{"status":1.}`, false},
	{`{"status":+1}`, false},
	{`{"status":1,"x":1e999}`, false},
	{`{"status":1,"x":-1e999}`, false},
	{`{"status":1,"x":1e-999}`, true},
	{`{"status":1,"x":"\x"}`, false},
	{`{"status":1,"x":"\u12"}`, false},
	{"{\"status\":1,\"x\":\"a\x01b\"}", false},
	{"{\"status\":1,\"x\":\"\xff\xfe\"}", true},
	{"{\"stat\xffus\":1}", false},
	{`{"status":1,"x":tru}`, false},
	{`{"status":1,"x":nul}`, false},
	{`{"status":1,"x":[1,2,]}`, false},
	{`{"status":1,"x":{"a"}}`, false},
	{`{"status":1,"x":{"a":1,}}`, false},
	{`{"status":1,"x":[[[[]]]]}`, true},
	{"\ufeff{\"status\":1}", false},
	{`{"status":1 "x":2}`, false},
	{`{'status':1}`, false},
	{`{status:1}`, false},
}

func TestAnswerOK(t *testing.T) {
	for _, tc := range statusCases {
		assert.Equal(t, tc.want, answerOK([]byte(tc.in)), "%q", tc.in)
		assert.Equal(t, refAnswerOK([]byte(tc.in)), tc.want, "reference disagrees with the table on %q", tc.in)
	}
}

func TestAnswerOKDepth(t *testing.T) {
	// encoding/json refuses more than 10000 nested levels; the top-level
	// object is level 1.
	for _, depth := range []int{maxNestingDepth - 1, maxNestingDepth, maxNestingDepth + 1} {
		inner := depth - 1
		doc := `{"status":1,"x":` + strings.Repeat("[", inner) + strings.Repeat("]", inner) + `}`
		assert.Equal(t, refAnswerOK([]byte(doc)), answerOK([]byte(doc)), "depth %d", depth)
	}
	deep := `{"status":1,"x":` + strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth) + `}`
	assert.False(t, answerOK([]byte(deep)))
}

// FuzzStatus: the status scanner agrees with encoding/json, and the form
// escaping with url.QueryEscape, on any bytes.
func FuzzStatus(f *testing.F) {
	for _, tc := range statusCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("a b&c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := answerOK(b), refAnswerOK(b); got != want {
			t.Fatalf("answerOK(%q) = %v, encoding/json says %v", b, got, want)
		}
		if got, want := string(appendFormEscape(nil, b)), url.QueryEscape(string(b)); got != want {
			t.Fatalf("appendFormEscape(%q) = %q, url.QueryEscape says %q", b, got, want)
		}
	})
}
