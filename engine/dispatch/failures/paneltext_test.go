package failures_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/push"
)

func TestPanelTextIsTheOldDaemonsWording(t *testing.T) {
	for _, c := range []struct {
		name string
		res  push.Result
		url  string
		want string
	}{
		{"an answer that is not 200", push.Result{Kind: push.HTTPStatus, Status: 500, Answer: []byte("oops\nline 2"), Err: push.ErrHTTPStatus},
			"http://h/x", "Code: 500\nContent:\n\toops\nline 2"},
		{"200 without status 1", push.Result{Kind: push.BadAnswer, Status: 200, Answer: []byte(`{"status":0}`), Err: push.ErrBadAnswer},
			"http://h/x", "Code: 200\nContent:\n\t{\"status\":0}"},
		{"an empty answer", push.Result{Kind: push.HTTPStatus, Status: 404, Err: push.ErrHTTPStatus},
			"http://h/x", "Code: 404\nContent:\n\t"},
		{"no answer in time", push.Result{Kind: push.Timeout, Elapsed: 5000123456 * time.Nanosecond, Err: errors.New("push to http://h/x: timeout")},
			"http://h/x", "Code: 0\nElapsed:5000.123 ms\nContent:\n\tFailed to get response: push to http://h/x: timeout"},
		{"connection refused", push.Result{Kind: push.Connection, Elapsed: 1500 * time.Microsecond, Err: errors.New("dial tcp 127.0.0.1:1: connection refused")},
			"http://h/x", "Code: 0\nElapsed:1.500 ms\nContent:\n\tFailed to get response: dial tcp 127.0.0.1:1: connection refused"},
		{"rounded to 3 decimals", push.Result{Kind: push.Connection, Elapsed: 2999999 * time.Nanosecond, Err: errors.New("x")},
			"http://h/x", "Code: 0\nElapsed:3.000 ms\nContent:\n\tFailed to get response: x"},
		{"body not encodable", push.Result{Kind: push.Encode, Err: errors.New("json: unsupported value: NaN")},
			"http://h/x", "not send. failed to encode message body.\nerr:\n\tjson: unsupported value: NaN"},
		{"bad URL", push.Result{Kind: push.BadURL, Err: push.ErrBadURL},
			"ftp://h/x", "not send, failed to parse url. \nContent:\n\tftp://h/x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, failures.PanelText(&c.res, c.url))
		})
	}
}

func TestDaemonMadeIDsAreTellableFromRowIDs(t *testing.T) {
	ids := failures.NewIDs()
	assert.True(t, failures.DaemonMade(ids.Next()))
	assert.False(t, failures.DaemonMade(1))
	assert.False(t, failures.DaemonMade(1<<40))
}
