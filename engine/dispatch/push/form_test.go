package push

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAppendFormEscape(t *testing.T) {
	cases := []string{
		"",
		"plain",
		`{"7":"int-key","big":12345678901234,"f":0.1,"name":"Zoë \u003c\u0026\u003e \"q\""}`,
		"a b+c&d=e?f/g:h;i@j$k,l~m_n.o-p*q'r(s)t!u#v%w",
		"\x00\x01\x1f\x7f\x80\xff",
		"日本語 🙂",
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases = append(cases, string(all))
	for _, s := range cases {
		got := appendFormEscape([]byte("x="), []byte(s))
		assert.Equal(t, "x="+url.QueryEscape(s), string(got))
	}
}
