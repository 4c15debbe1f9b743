package subs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInvalidURLErrorMasksUserinfo: the validation error of a bad URL line
// (logged by the sources) does not carry its password.
func TestInvalidURLErrorMasksUserinfo(t *testing.T) {
	s := &Subscription{ID: 1, Topic: "t", URL: "http://user:hunter2@h:bad/x\nftp://u:pw2@h/"}
	err := s.Validate(Limits{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "user:xxxxx@h:bad")
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "pw2")
}
