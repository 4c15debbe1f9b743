package message

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
)

// FuzzDecode is the fuzz target of the decoder and AppendJSON: Decode never panics, fails only with ErrMalformed, and what it
// accepts survives a channel-job and a main-job round trip; and for any
// single msgpack value, AppendJSON writes exactly what encoding/json makes
// of the decoded value, or both fail.
func FuzzDecode(f *testing.F) {
	for _, tc := range jsonCases() {
		f.Add(tc.body)
	}
	f.Add(typicalBody)
	for _, tc := range decodeCases() {
		f.Add(tc.job)
	}
	for _, m := range sampleMessages() {
		f.Add(AppendChannelJob(nil, &m))
		f.Add(AppendMainJob(nil, &m))
	}
	f.Add(typicalJob)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSON(t, data)
		var m Message
		if err := Decode(data, &m); err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.NotEmpty(t, m.Topic)

		var got Message
		require.NoError(t, Decode(AppendChannelJob(nil, &m), &got))
		require.Equal(t, m, got, "channel job round trip")

		got = Message{}
		require.NoError(t, Decode(AppendMainJob(nil, &m), &got))
		want := m
		want.OriginJobID, want.RetryTimes, want.LogID, want.SubscriptionID = 0, 0, 0, 0
		require.Equal(t, want, got, "main job round trip")

		// The body of any accepted job must not make the JSON encoder panic.
		_, _ = AppendJSON(nil, m.Body)
	})
}

// checkJSON holds AppendJSON to the encoding/json reference for body.
func checkJSON(t *testing.T, body []byte) {
	if _, err := msgp.Skip(body); err != nil {
		return // not one msgpack value: outside the contract
	}
	got, err := AppendJSON([]byte("x"), body)
	want, refErr := refJSON(body)
	if refErr != nil {
		require.ErrorIs(t, err, ErrMalformed, "the reference failed (%v) so AppendJSON must too", refErr)
		require.Equal(t, "x", string(got))
		return
	}
	require.NoError(t, err, "the reference gave %s", want)
	require.Equal(t, "x"+string(want), string(got))
}
