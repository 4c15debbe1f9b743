package paneldb

import (
	"testing"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
)

// FuzzBuild decodes arbitrary rows of the 2.x tables (a URL field, a
// timeout, two parameter rows) into a subscription: it never panics, an
// error is a validation error, and a subscription it accepts is written
// back by ParamsOf and the columns into rows that decode to the same
// subscription (what the admin API writes, the source reads).
func FuzzBuild(f *testing.F) {
	f.Add("http://sub.example/hook", 3000, "Concurrency", "7", "AlerterEnabled", "0")
	f.Add("[T_ENV:PUB]http://a/x\n[T_ENV:DEV]http://b/y", 0, "ReceptionUri", "http://c/z", "ProcessTimeout", " 1500 ")
	f.Add("http://sub.example/hook", 0, "Concurrency", "five", "IntervalOfSending", "-1")
	f.Add("", 0, "ReceiveBenchMsgs", "true", "DropMessageThresholdAction", "2")
	f.Add("http://u:p@sub.example/hook", 10, "AlerterEmails", "a@x,b@y", "Unknown", "1")
	lim := subs.Limits{MaxConcurrency: 100, MaxRetryConcurrency: 50, MaxTimeoutMS: 60000}
	f.Fuzz(func(t *testing.T, channel string, timeout int, n1, v1, n2, v2 string) {
		r := row{topic: "orders", classID: 1, id: 7, subscriber: 3, channel: channel, timeout: timeout}
		rows := []Param{{Name: n1, Value: v1}, {Name: n2, Value: v2}}
		s, _, err := build(r, rows, lim)
		if err != nil {
			require.Nil(t, s)
			return
		}
		back := r
		back.channel, back.timeout = s.URL, s.TimeoutMS
		again, unknown, err := build(back, ParamsOf(s), lim)
		require.NoError(t, err, "rows written from %+v", s)
		require.Empty(t, unknown, "ParamsOf writes only known names")
		require.Equal(t, s, again)
	})
}
