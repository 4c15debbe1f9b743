package subs

import "slices"

// Set is an immutable snapshot of the subscriptions. The dispatcher looks
// up every message's topic in it, so lookups neither allocate nor lock; a
// change makes a new Set, swapped in whole.
type Set struct {
	all     []*Subscription // sorted by ID
	byID    map[int64]*Subscription
	byTopic map[string][]*Subscription // each sorted by ID
}

// NewSet builds a snapshot of subs. It keeps its own copies (with their
// URLs and signing secrets parsed and their filter compiled, see
// Subscription.URLs, SigningKeys and ContentFilter), so subs are left
// untouched. Nil entries are skipped; of several entries with one ID the
// first is kept. NewSet does not validate: sources pass only
// subscriptions that passed Validate, a URL field that does not parse
// yields an empty URLSet, and a filter that does not compile none.
func NewSet(subs []*Subscription) *Set {
	s := &Set{
		all:     make([]*Subscription, 0, len(subs)),
		byID:    make(map[int64]*Subscription, len(subs)),
		byTopic: make(map[string][]*Subscription),
	}
	for _, in := range subs {
		if in == nil {
			continue
		}
		if _, dup := s.byID[in.ID]; dup {
			continue
		}
		c := *in
		urls, _ := ParseURLs(c.URL)
		c.urls = &urls
		c.keys = signingKeys(c.SigningSecrets)
		c.filter, _ = compileFilter(c.Filter)
		s.all = append(s.all, &c)
		s.byID[c.ID] = &c
	}
	slices.SortFunc(s.all, func(a, b *Subscription) int { return cmpInt64(a.ID, b.ID) })
	for _, c := range s.all {
		s.byTopic[c.Topic] = append(s.byTopic[c.Topic], c)
	}
	return s
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ByID returns the subscription with id, or nil.
func (s *Set) ByID(id int64) *Subscription {
	if s == nil {
		return nil
	}
	return s.byID[id]
}

// ByTopic returns the subscriptions of topic, sorted by ID; nil when there
// are none. The slice is shared and must not be modified.
func (s *Set) ByTopic(topic []byte) []*Subscription {
	if s == nil {
		return nil
	}
	return s.byTopic[string(topic)] // no allocation: the compiler converts in place
}

// All returns every subscription, sorted by ID. The slice is shared and
// must not be modified.
func (s *Set) All() []*Subscription {
	if s == nil {
		return nil
	}
	return s.all
}

// Len is the number of subscriptions.
func (s *Set) Len() int { return len(s.All()) }

// Equal reports whether s and o hold the same subscriptions with the same
// settings.
func (s *Set) Equal(o *Set) bool {
	a, b := s.All(), o.All()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
