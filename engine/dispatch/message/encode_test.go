package message

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
)

func sampleMessages() map[string]Message {
	return map[string]Message{
		"full": {Topic: b("order_paid"), Body: typicalBody, Sender: b("shop"), Time: 1732500000.123456,
			Priority: 1024, Delay: 4, Context: b("ctx"), OwlContext: b("owl"),
			OriginJobID: 123456, RetryTimes: 3, LogID: 77, SubscriptionID: 17},
		"minimal":     {Topic: b("t")},
		"string body": {Topic: b("t"), Body: mstr("plain string body"), Time: 1},
		"extremes": {Topic: b("t"), Body: mint(-1), Time: -0.5, Priority: math.MaxUint32, Delay: math.MaxUint32,
			OriginJobID: math.MaxUint64, RetryTimes: math.MinInt, LogID: math.MaxInt64 + 1, SubscriptionID: math.MinInt64},
		"negative subscription": {Topic: b("t"), SubscriptionID: -5, RetryTimes: 10},
	}
}

func TestChannelJobRoundTrip(t *testing.T) {
	for name, m := range sampleMessages() {
		t.Run(name, func(t *testing.T) {
			job := AppendChannelJob(nil, &m)
			var got Message
			require.NoError(t, Decode(job, &got))
			assert.Equal(t, m, got)
		})
	}
}

func TestMainJobRoundTrip(t *testing.T) {
	for name, m := range sampleMessages() {
		t.Run(name, func(t *testing.T) {
			job := AppendMainJob(nil, &m)
			var got Message
			require.NoError(t, Decode(job, &got))
			want := m
			want.OriginJobID, want.RetryTimes, want.LogID, want.SubscriptionID = 0, 0, 0, 0
			assert.Equal(t, want, got)
		})
	}
}

// The old daemon reads our channel jobs during a migration: its 11 keys in
// its order, every one present, then SubscriptionId.
func TestChannelJobLayout(t *testing.T) {
	m := Message{Topic: b("t"), Body: mmap(mstr("a"), mint(1)), Time: 2, OriginJobID: 9}
	job := AppendChannelJob(nil, &m)
	n, rest, err := msgp.ReadMapHeaderBytes(job)
	require.NoError(t, err)
	require.EqualValues(t, 12, n)
	want := []struct {
		key string
		typ msgp.Type
	}{
		{"MsgKey", msgp.StrType}, {"Body", msgp.MapType}, {"Sender", msgp.StrType},
		{"Time", msgp.Float64Type}, {"OriginJobId", msgp.IntType}, {"RetryTimes", msgp.IntType},
		{"LogId", msgp.IntType}, {"Delay", msgp.IntType}, {"Priority", msgp.IntType},
		{"Context", msgp.StrType}, {"Owl_context", msgp.StrType}, {"SubscriptionId", msgp.IntType},
	}
	for _, w := range want {
		var key string
		key, rest, err = msgp.ReadStringBytes(rest)
		require.NoError(t, err)
		assert.Equal(t, w.key, key)
		assert.Equal(t, w.typ, msgp.NextType(rest), w.key)
		rest, err = msgp.Skip(rest)
		require.NoError(t, err)
	}
	assert.Empty(t, rest)
	// The body is copied byte for byte.
	assert.Contains(t, string(job), string(m.Body))
}

func TestMainJobLayout(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		keys []string
	}{
		{"bare", Message{Topic: b("t")}, []string{"msgKey", "body", "sender", "time"}},
		{"all set", Message{Topic: b("t"), Priority: 1, Delay: 2, Context: b("c"), OwlContext: b("o")},
			[]string{"msgKey", "body", "sender", "time", "priority", "delay", "context", "owl_context"}},
		{"owl only", Message{Topic: b("t"), OwlContext: b("o")}, []string{"msgKey", "body", "sender", "time", "owl_context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := AppendMainJob(nil, &tt.m)
			n, rest, err := msgp.ReadMapHeaderBytes(job)
			require.NoError(t, err)
			var keys []string
			for i := uint32(0); i < n; i++ {
				var k string
				k, rest, err = msgp.ReadStringBytes(rest)
				require.NoError(t, err)
				keys = append(keys, k)
				if k == "time" {
					assert.Equal(t, msgp.Float64Type, msgp.NextType(rest))
				}
				if k == "body" {
					assert.True(t, msgp.IsNil(rest), "a missing body is written as nil")
				}
				rest, err = msgp.Skip(rest)
				require.NoError(t, err)
			}
			assert.Equal(t, tt.keys, keys)
			assert.Empty(t, rest)
		})
	}
}

func TestAppendJobsAllocs(t *testing.T) {
	m := sampleMessages()["full"]
	dst := make([]byte, 0, 1024)
	assert.Zero(t, testing.AllocsPerRun(100, func() { dst = AppendChannelJob(dst[:0], &m) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { dst = AppendMainJob(dst[:0], &m) }))
}

// A retry job is exactly the old daemon's: 11 keys in its order.
func TestAppendRetryJobHasTheOldElevenKeys(t *testing.T) {
	m := Message{Topic: []byte("order_paid"), Body: mstr("b"), Time: 1.5, OriginJobID: 9, LogID: 3, SubscriptionID: 17}
	job := AppendRetryJob(nil, &m)
	keys, err := MapKeys(job)
	require.NoError(t, err)
	require.Equal(t, []string{"MsgKey", "Body", "Sender", "Time", "OriginJobId", "RetryTimes", "LogId",
		"Delay", "Priority", "Context", "Owl_context"}, keys)
	var got Message
	require.NoError(t, Decode(job, &got))
	require.Zero(t, got.SubscriptionID)
	require.Equal(t, uint64(3), got.LogID)
}

func TestMapKeys(t *testing.T) {
	keys, err := MapKeys([]byte{0x82, 0x07, 0x01, 0xa1, 'k', 0xc0}) // {7:1, "k":nil}
	require.NoError(t, err)
	require.Equal(t, []string{"k"}, keys)
	for _, bad := range [][]byte{nil, {0x01}, {0x81, 0xa1}, {0x81, 0xa1, 'k'}} {
		_, err := MapKeys(bad)
		require.ErrorIs(t, err, ErrMalformed, "%x", bad)
	}
}
