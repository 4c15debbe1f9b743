package window

// tryEnter takes a slot when fewer pushes than the window are in flight;
// it returns the window's epoch at that moment.
func (w *Window) tryEnter() (uint32, bool) {
	for {
		n := w.inflight.Load()
		s := w.state.Load()
		if n >= limitOf(s) {
			return 0, false
		}
		if w.inflight.CompareAndSwap(n, n+1) {
			return epochOf(s), true
		}
	}
}

// Enter waits for a slot in the window; it returns the epoch to give
// Leave, or false when a or b closes first (the caller must stop, and
// does not call Leave).
func (w *Window) Enter(a, b <-chan struct{}) (uint32, bool) {
	if ep, ok := w.tryEnter(); ok {
		return ep, true
	}
	for {
		// Counted as waiting before the check, so that a Leave between the
		// check and the wait sees a waiter and leaves a wake-up behind.
		w.waiters.Add(1)
		ep, ok := w.tryEnter()
		if ok {
			w.waiters.Add(-1)
			w.passOn()
			return ep, true
		}
		select {
		case <-w.wake:
			w.waiters.Add(-1)
		case <-a:
			w.waiters.Add(-1)
			w.passOn()
			return 0, false
		case <-b:
			w.waiters.Add(-1)
			w.passOn()
			return 0, false
		}
	}
}

// passOn wakes another waiter while the window has room: one wake-up
// token serves one waiter, who hands the next one on.
func (w *Window) passOn() {
	if w.waiters.Load() > 0 && w.inflight.Load() < limitOf(w.state.Load()) {
		signal(w)
	}
}

// signal leaves one wake-up token (a waiter that finds no room waits again).
func signal(w *Window) {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
