package stats

// HandoffsFunc reports how subscription id's copies of main-tube messages
// reached its push workers since it started: direct ones straight from the
// main tube (cut-through), spilled ones through its channel tube. ok is
// false for a subscription the engine does not run. It is called once per
// subscription per snapshot, never on the push path.
type HandoffsFunc func(id int64) (direct, spilled uint64, ok bool)

// WithHandoffs adds each subscription's Handoffs to the snapshots, as f
// reports them. Without it, SubStats.Handoffs is nil (and left out of the
// JSON).
func WithHandoffs(f HandoffsFunc) Option {
	return func(s *Stats) { s.handoffs = f }
}

// Handoffs are a subscription's copies by the way they reached its push
// workers, since the subscription started.
type Handoffs struct {
	Direct  uint64 `json:"direct"`
	Spilled uint64 `json:"spilled"`
	// DirectShare is Direct/(Direct+Spilled), 0 when there were none.
	DirectShare float64 `json:"direct_share"`
}

// handoffsOf asks s.handoffs about subscription id; nil without it or
// when the engine does not run id.
func (s *Stats) handoffsOf(id int64) *Handoffs {
	if s.handoffs == nil {
		return nil
	}
	direct, spilled, ok := s.handoffs(id)
	if !ok {
		return nil
	}
	h := &Handoffs{Direct: direct, Spilled: spilled}
	if n := direct + spilled; n > 0 {
		h.DirectShare = float64(direct) / float64(n)
	}
	return h
}
