package loadgen

import "fmt"

// Ledger closes a run: every delivery owed (each sent message once per
// subscription of its topic) is delivered, still queued at the cutoff, or
// lost; duplicates are counted apart.
//
// Delivered and Duplicates come from the farm's per-subscription bitsets,
// InFlight from a census of the queues taken after the farm stopped
// counting, Lost is what remains. The ledger does not balance when those
// independent counts contradict each other: the queues hold more jobs than
// deliveries are missing (something is counted twice or the queues hold
// foreign jobs), the farm saw deliveries of messages that were never put,
// or the queues could not be read while deliveries were missing. Jobs a
// daemon is moving while the census is taken blur it by at most Moving.
type Ledger struct {
	Sent       int64 `json:"sent"`       // messages put
	PutFailed  int64 `json:"put_failed"` // puts that failed or never ran
	Owed       int64 `json:"owed"`       // deliveries owed: Σ sent × subscriptions of the topic
	Delivered  int64 `json:"delivered"`  // first deliveries of owed messages
	InFlight   int64 `json:"in_flight"`  // deliveries still queued at the cutoff
	Lost       int64 `json:"lost"`       // Owed − Delivered − InFlight
	Duplicates int64 `json:"duplicates"` // second and later deliveries
	Unexpected int64 `json:"unexpected"` // deliveries of messages whose put failed
	// Moving is the number of jobs the daemon held (reserved) at the
	// census: a job being moved from one tube to another (channel → retry)
	// can be counted in both, so InFlight and Lost are exact only within
	// ±Moving. It is 0 after a complete drain.
	Moving   int64  `json:"moving"`
	Balanced bool   `json:"balanced"` // see the type's comment
	Problem  string `json:"problem,omitempty"`
}

// CloseLedger computes Lost and decides whether the ledger balances.
// censusErr is the error of the queue census (InFlight is then unknown).
// A put that failed with a timeout may still have landed, so up to
// PutFailed unexpected deliveries are tolerated.
func CloseLedger(l Ledger, censusErr error) Ledger {
	l.Balanced = true
	l.Problem = ""
	if censusErr != nil {
		l.InFlight = 0
		if l.Delivered != l.Owed {
			l.Balanced = false
			l.Problem = fmt.Sprintf("queue census failed with %d deliveries missing: %v", l.Owed-l.Delivered, censusErr)
		}
	}
	l.Lost = l.Owed - l.Delivered - l.InFlight
	if l.Lost < 0 && -l.Lost <= l.Moving {
		l.InFlight += l.Lost // jobs counted twice while the daemon moved them
		l.Lost = 0
	}
	if l.Lost < 0 {
		l.Balanced = false
		l.Problem = fmt.Sprintf("the queues hold %d more jobs than deliveries are missing", -l.Lost)
		l.Lost = 0
	}
	if l.Unexpected > l.PutFailed {
		l.Balanced = false
		l.Problem = fmt.Sprintf("%d deliveries of messages that were never put", l.Unexpected-l.PutFailed)
	}
	if l.Delivered > l.Owed {
		l.Balanced = false
		l.Problem = fmt.Sprintf("%d more deliveries than owed", l.Delivered-l.Owed)
	}
	return l
}

// Check reports whether Owed == Delivered + Lost + InFlight.
func (l Ledger) Check() bool { return l.Owed == l.Delivered+l.Lost+l.InFlight }
