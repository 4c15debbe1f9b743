package failures

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// TestRecordsMaskUserinfo: a record's URL and error are stored in Redis
// and handed to the fallback with URL userinfo masked; a record stored
// unmasked (by an older daemon) is masked when shown.
func TestRecordsMaskUserinfo(t *testing.T) {
	r := testsrv.StartRedis(t)
	c := client(t, r.Addr)
	s := New(c, Config{Key: "{t}:failures"})
	s.Add(&Record{LogID: 1, Topic: "t", SubID: 4, URL: "http://user:hunter2@hooks.example/x",
		Error: "connection: push to http://user:hunter2@hooks.example/x: refused"})
	s.Close(context.Background())
	recs, err := Query(context.Background(), c, "{t}:failures", 10, nil)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "http://user:xxxxx@hooks.example/x", recs[0].URL)
	assert.Equal(t, "connection: push to http://user:xxxxx@hooks.example/x: refused", recs[0].Error)

	fell := make(chan *Record, 1)
	s = New(nil, Config{Key: "k", Fallback: func(rec *Record, _ error) { fell <- rec }})
	s.Add(&Record{LogID: 2, URL: "https://tok@h/"})
	s.Close(context.Background())
	assert.Equal(t, "https://xxxxx@h/", (<-fell).URL)

	old := &Record{URL: "http://u:hunter2@h/", Error: "x http://u:hunter2@h/"}
	v := old.View()
	assert.Equal(t, "http://u:xxxxx@h/", v.URL)
	assert.NotContains(t, v.Error, "hunter2")
}
