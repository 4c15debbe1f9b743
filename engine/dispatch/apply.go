package dispatch

import "medispatcher/engine/dispatch/subs"

// state is one consistent view of the subscriptions and their runners.
type state struct {
	set     *subs.Set
	runners map[int64]*runner
}

// Apply makes set the live subscription set: new subscriptions start,
// changed ones take their new parameters for the next push, cancelled ones
// stop (their queued jobs go back to the tube).
func (e *Engine) Apply(set *subs.Set) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	if e.stopping.Load() {
		return
	}
	old := e.state.Load()
	next := &state{set: set, runners: make(map[int64]*runner, len(old.runners))}
	added, changed, removed := 0, 0, 0
	for _, s := range set.All() {
		r := old.runners[s.ID]
		switch {
		case r != nil && r.topic == s.Topic:
			if r.update(s) {
				changed++
			}
		default:
			if r != nil { // topic changed: a different pair of tubes
				r.stop()
				removed++
			}
			r = newRunner(e, s)
			r.start()
			added++
		}
		next.runners[s.ID] = r
	}
	for id, r := range old.runners {
		if _, ok := next.runners[id]; !ok {
			r.stop()
			removed++
		}
	}
	e.state.Store(next)
	if added+changed+removed > 0 {
		e.log.Info("subscriptions applied", "total", len(next.runners), "added", added, "changed", changed, "removed", removed)
	}
	switch {
	case len(next.runners) > 0 || e.opts.AllowEmptySet:
		if *e.paused.Load() != "" {
			e.log.Info("main tube dispatching", "subscriptions", len(next.runners))
		}
		e.setPaused("")
		if e.mainGate != nil {
			e.mainGate.setIdle(false)
		}
	default:
		e.setPaused("the subscription set is empty (AllowEmptySubscriptionSet = false)")
		if e.mainGate != nil {
			e.mainGate.setIdle(true)
		}
		e.log.Error("the subscription set is empty: the main tube is left untouched until a subscription is loaded",
			"main_tube", e.opts.MainTube)
	}
	e.firstSet.Do(func() { close(e.applied) })
	ch := make(chan struct{})
	close(*e.changed.Swap(&ch))
}
