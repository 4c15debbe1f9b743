package subs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	a, b, c := sub(3, "order_paid"), sub(1, "order_paid"), sub(2, "user_new")
	b.URL = "http://b.example\n[T_ENV:prod]http://p.example"
	dup := sub(3, "other")
	input := []*Subscription{a, nil, b, c, dup}
	set := NewSet(input)

	assert.Equal(t, 3, set.Len())
	assert.Equal(t, []int64{1, 2, 3}, ids(set), "All is sorted by id")
	assert.Equal(t, "order_paid", set.ByID(3).Topic, "the first of duplicate ids is kept")
	assert.Nil(t, set.ByID(99))

	paid := set.ByTopic([]byte("order_paid"))
	require.Len(t, paid, 2)
	assert.Equal(t, int64(1), paid[0].ID)
	assert.Equal(t, int64(3), paid[1].ID)
	assert.Nil(t, set.ByTopic([]byte("nobody")))
	assert.Same(t, set.ByID(2), set.ByTopic([]byte("user_new"))[0])

	u, ok := set.ByID(1).URLs().Pick("prod", 0)
	require.True(t, ok)
	assert.Equal(t, "http://p.example", u)
	assert.Nil(t, b.URLs(), "NewSet leaves its input untouched")
	assert.NotSame(t, b, set.ByID(1))

	assert.True(t, set.Equal(NewSet([]*Subscription{c, b, a})))
	changed := *c
	changed.Concurrency = 4
	assert.False(t, set.Equal(NewSet([]*Subscription{a, b, &changed})))
	assert.False(t, set.Equal(NewSet([]*Subscription{a, b})))
}

func TestNilAndEmptySet(t *testing.T) {
	for _, s := range []*Set{nil, NewSet(nil)} {
		assert.Nil(t, s.ByID(1))
		assert.Nil(t, s.ByTopic([]byte("x")))
		assert.Empty(t, s.All())
		assert.Zero(t, s.Len())
	}
	assert.True(t, (*Set)(nil).Equal(NewSet(nil)))
}

func TestSetLookupAllocatesNothing(t *testing.T) {
	subs := make([]*Subscription, 0, 100)
	for i := int64(1); i <= 100; i++ {
		subs = append(subs, sub(i, "topic_"+string(rune('a'+i%10))))
	}
	set := NewSet(subs)
	topic := []byte("topic_c")
	missing := []byte("no_such_topic")
	allocs := testing.AllocsPerRun(1000, func() {
		if len(set.ByTopic(topic)) == 0 || set.ByTopic(missing) != nil || set.ByID(42) == nil {
			t.Fatal("lookup failed")
		}
	})
	assert.Zero(t, allocs)
}
