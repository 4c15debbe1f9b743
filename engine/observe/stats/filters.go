package stats

// FiltersFunc reports subscription id's content filter counts since it
// started: messages its filter left out, and messages its filter failed
// on (delivered all the same). ok is false for a subscription the engine
// does not run. It is called once per subscription per snapshot, never on
// the push path.
type FiltersFunc func(id int64) (filtered, errors uint64, ok bool)

// WithFilters adds each subscription's content filter counts to the
// snapshots (SubStats.Filtered, SubStats.FilterErrors), as f reports them.
// Without it, or for a subscription f does not know, both are nil.
func WithFilters(f FiltersFunc) Option {
	return func(s *Stats) { s.filters = f }
}

// filtersOf fills st's content filter counts from s.filters.
func (s *Stats) filtersOf(st *SubStats) {
	if s.filters == nil {
		return
	}
	if filtered, errs, ok := s.filters(st.ID); ok {
		st.Filtered, st.FilterErrors = &filtered, &errs
	}
}
