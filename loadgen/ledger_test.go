package loadgen

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCloseLedger(t *testing.T) {
	cases := []struct {
		name     string
		in       Ledger
		census   error
		lost     int64
		balanced bool
	}{
		{"all delivered", Ledger{Sent: 10, Owed: 20, Delivered: 20}, nil, 0, true},
		{"some in flight", Ledger{Sent: 10, Owed: 20, Delivered: 15, InFlight: 5}, nil, 0, true},
		{"some lost", Ledger{Sent: 10, Owed: 20, Delivered: 15, InFlight: 2}, nil, 3, true},
		{"duplicates apart", Ledger{Sent: 10, Owed: 10, Delivered: 10, Duplicates: 4}, nil, 0, true},
		{"queues hold too much", Ledger{Sent: 10, Owed: 10, Delivered: 9, InFlight: 3}, nil, 0, false},
		{"double counted while moving", Ledger{Sent: 10, Owed: 10, Delivered: 9, InFlight: 3, Moving: 2}, nil, 0, true},
		{"more than moving explains", Ledger{Sent: 10, Owed: 10, Delivered: 9, InFlight: 4, Moving: 2}, nil, 0, false},
		{"census failed, nothing missing", Ledger{Owed: 10, Delivered: 10, InFlight: 7}, errors.New("x"), 0, true},
		{"census failed, missing", Ledger{Owed: 10, Delivered: 8}, errors.New("x"), 2, false},
		{"ambiguous put landed", Ledger{Sent: 9, PutFailed: 1, Owed: 9, Delivered: 9, Unexpected: 1}, nil, 0, true},
		{"phantom deliveries", Ledger{Sent: 9, PutFailed: 1, Owed: 9, Delivered: 9, Unexpected: 2}, nil, 0, false},
		{"over-delivered", Ledger{Sent: 9, Owed: 9, Delivered: 10}, nil, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := CloseLedger(c.in, c.census)
			assert.Equal(t, c.lost, l.Lost)
			assert.Equal(t, c.balanced, l.Balanced, l.Problem)
			if l.Balanced {
				assert.True(t, l.Check(), "owed == delivered + lost + in flight")
				assert.Empty(t, l.Problem)
			} else {
				assert.NotEmpty(t, l.Problem)
			}
		})
	}
}
