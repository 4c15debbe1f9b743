package connpool

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		line  string
		kind  replyKind
		nargs int
		a, b  uint64
		name  string
	}{
		{"INSERTED 42\r\n", rInserted, 1, 42, 0, ""},
		{"BURIED 7\r\n", rBuried, 1, 7, 0, ""},
		{"BURIED\r\n", rBuried, 0, 0, 0, ""},
		{"USING order_paid/sub-queue/17\r\n", rUsing, 0, 0, 0, "order_paid/sub-queue/17"},
		{"WATCHING 3\r\n", rWatching, 1, 3, 0, ""},
		{"RESERVED 18446744073709551615 5\r\n", rReserved, 2, 1<<64 - 1, 5, ""},
		{"FOUND 1 0\r\n", rFound, 2, 1, 0, ""},
		{"OK 120\r\n", rOK, 1, 120, 0, ""},
		{"KICKED\r\n", rKicked, 0, 0, 0, ""},
		{"KICKED 9\r\n", rKicked, 1, 9, 0, ""},
		{"TIMED_OUT\r\n", rTimedOut, 0, 0, 0, ""},
		{"DEADLINE_SOON\r\n", rDeadlineSoon, 0, 0, 0, ""},
		{"NOT_FOUND\r\n", rNotFound, 0, 0, 0, ""},
		{"NOT_IGNORED\r\n", rNotIgnored, 0, 0, 0, ""},
		{"DELETED\r\n", rDeleted, 0, 0, 0, ""},
		{"RELEASED\r\n", rReleased, 0, 0, 0, ""},
		{"TOUCHED\r\n", rTouched, 0, 0, 0, ""},
		{"JOB_TOO_BIG\r\n", rJobTooBig, 0, 0, 0, ""},
		{"DRAINING\r\n", rDraining, 0, 0, 0, ""},
		{"OUT_OF_MEMORY\r\n", rOutOfMemory, 0, 0, 0, ""},
		{"UNKNOWN_COMMAND\r\n", rUnknownCommand, 0, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.line[:len(tc.line)-2], func(t *testing.T) {
			r, err := parseReply([]byte(tc.line))
			require.NoError(t, err)
			assert.Equal(t, tc.kind, r.kind)
			assert.Equal(t, tc.nargs, r.nargs)
			assert.Equal(t, tc.a, r.a)
			assert.Equal(t, tc.b, r.b)
			assert.Equal(t, tc.name, string(r.name))
		})
	}
}

func TestParseReplyRejects(t *testing.T) {
	for _, line := range []string{
		"", "\r\n", "INSERTED 1\n", "INSERTED\r\n", "INSERTED x\r\n", "INSERTED 1 2\r\n",
		"INSERTED -1\r\n", "RESERVED 1\r\n", "RESERVED 1 2 3\r\n", "USING\r\n", "USING a b\r\n",
		"TIMED_OUT 1\r\n", "HELLO\r\n", "INSERTED 18446744073709551616\r\n",
		"OK 99999999999\r\n", "inserted 1\r\n",
	} {
		_, err := parseReply([]byte(line))
		assert.ErrorIs(t, err, ErrProtocol, "%q", line)
	}
}

func TestParseReplyDoesNotAllocate(t *testing.T) {
	line := []byte("RESERVED 123456 256\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := parseReply(line); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"INSERTED 1\r\n", "RESERVED 1 2\r\n", "USING a\r\n", "KICKED\r\n", "OK 5\r\n", "BURIED 3\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseReply(line)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error not ErrProtocol: %v", err)
			}
			return
		}
		if n, ok := r.bodyLen(); ok && (n < 0 || n > maxBody) {
			t.Fatalf("body length %d accepted", n)
		}
	})
}

func TestCheckTube(t *testing.T) {
	long := make([]byte, 200)
	for i := range long {
		long[i] = 'a'
	}
	for _, ok := range []string{"a", "order_paid/sub-queue/17/FAIL", "x+y;z.$_()-", string(long)} {
		assert.NoError(t, checkTube(ok), ok)
	}
	for _, bad := range []string{"", "-a", "a b", "a\r\nput", "é", string(long) + "a"} {
		assert.ErrorIs(t, checkTube(bad), ErrBadTubeName, bad)
	}
}

func TestCommands(t *testing.T) {
	assert.Equal(t, "put 1024 0 60 5\r\nhello\r\n", string(appendPut(nil, 1024, 0, 60, []byte("hello"))))
	assert.Equal(t, "release 7 3 10\r\n", string(appendRelease(nil, 7, 3, 10)))
	assert.Equal(t, "bury 7 3\r\n", string(appendBury(nil, 7, 3)))
	assert.Equal(t, "delete 9\r\n", string(appendID(nil, "delete", 9)))
	assert.Equal(t, "use t\r\n", string(appendWord(nil, "use", "t")))
	assert.Equal(t, uint64(1), ttrSeconds(0))
	assert.Equal(t, uint64(2), ttrSeconds(1500*time.Millisecond))
	assert.Equal(t, uint64(1), seconds(1999*time.Millisecond))
	assert.Equal(t, uint64(0), seconds(-time.Second))
}

func TestParseStats(t *testing.T) {
	tube := parseTubeStats([]byte("---\nname: t\ncurrent-jobs-urgent: 1\ncurrent-jobs-ready: 2\n" +
		"current-jobs-reserved: 3\ncurrent-jobs-delayed: 4\ncurrent-jobs-buried: 5\ntotal-jobs: 6\n" +
		"current-using: 7\ncurrent-watching: 8\ncurrent-waiting: 9\ncmd-delete: 10\npause: 11\npause-time-left: 12\n"))
	assert.Equal(t, TubeStats{Name: "t", Urgent: 1, Ready: 2, Reserved: 3, Delayed: 4, Buried: 5, TotalJobs: 6,
		Using: 7, Watching: 8, Waiting: 9, Deletes: 10, Pause: 11, PauseTimeLeft: 12}, tube)
	assert.Equal(t, []string{"default", "a/b"}, parseYAMLList([]byte("---\n- default\n- a/b\n")))
}
