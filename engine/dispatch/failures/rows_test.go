package failures

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRows gives first failures ids from 1 and notes what it was handed.
type fakeRows struct {
	mu     sync.Mutex
	next   uint64
	down   bool
	first  []Record
	added  []Record
	closed int
}

func (f *fakeRows) First(r *Record) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.first = append(f.first, *r)
	if f.down {
		return 0
	}
	f.next++
	return f.next
}

func (f *fakeRows) Add(r *Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, *r)
}

func (f *fakeRows) Close(context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
}

func TestStoreHandsRecordsToRows(t *testing.T) {
	rows := &fakeRows{}
	var mu sync.Mutex
	var kept []uint64
	s := New(nil, Config{Rows: rows, Fallback: func(r *Record, _ error) {
		mu.Lock()
		defer mu.Unlock()
		kept = append(kept, r.LogID)
	}})
	ids := NewIDs()

	// The database's id names the record from its first failure on.
	first := &Record{LogID: ids.Next(), URL: "http://u:secret@h/x", PanelError: "Code: 0 … http://u:secret@h/x"}
	assert.Equal(t, uint64(1), s.First(first))
	assert.Equal(t, uint64(1), first.LogID)
	require.Len(t, rows.first, 1)
	assert.Equal(t, "http://u:xxxxx@h/x", rows.first[0].URL, "masked before it leaves")
	assert.NotContains(t, rows.first[0].PanelError, "secret")
	assert.False(t, rows.first[0].Time.IsZero())

	// No answer in time: the record keeps its own id.
	rows.down = true
	own := ids.Next()
	assert.Equal(t, own, s.First(&Record{LogID: own}))

	later := &Record{LogID: 1, RetryTimes: 1}
	s.Add(later)
	require.Len(t, rows.added, 1, "later records go to Rows.Add, first ones do not")
	assert.Equal(t, 1, rows.added[0].RetryTimes)

	s.Close(context.Background())
	assert.Equal(t, 1, rows.closed)
	assert.ElementsMatch(t, []uint64{1, own, 1}, kept, "every record reached the stream's side too (here its fallback)")
}
