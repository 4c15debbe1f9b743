// Package window is a subscription lane's adaptive push window: how many
// pushes may be in flight at once, between 1 and the lane's configured
// concurrency (the ceiling, never exceeded), moved by what the subscriber
// shows, after TCP's congestion window as Google Pub/Sub push flow control
// and Netflix's concurrency-limits (AIMD, gradient) apply it to requests.
//
// The rule:
//
//   - A round is a window's worth of pushes: it ends when as many
//     successes as the window holds have been counted since the last
//     change of the window.
//   - Slow start: the window starts at 1 and doubles at the end of every
//     round (a success of any latency counts), up to the ceiling, until the
//     first congestion signal.
//   - Additive increase: after that, the window grows by 1 at the end of
//     every round, where only successes whose latency is near the floor
//     count: at most 2 × floor + NearSlack. The floor is the lowest
//     latency of a success over the last one to two FloorPeriods.
//   - Only a window in use grows: a success counts for a round only when
//     at least half the window was in flight as it ended (a subscription
//     with little to push keeps the window it has proved).
//   - Multiplicative decrease: a congestion signal halves the window (not
//     below 1) and ends slow start for good. The signals are a time-out, an
//     answer 429 or 503, and a success slower than 4 × floor + SlowSlack
//     (the latency gradient: the subscriber queues our pushes).
//   - At most one decrease per round: a signal from a push that began
//     before the window last changed is ignored, since that change already
//     answered the load it was part of; a burst of failures halves the
//     window once, not down to 1.
//   - Other outcomes (a connection error, another failing status, a push
//     that did not happen) change nothing: the circuit breaker judges them.
//
// Cost: Enter is two loads and a compare-and-swap; Leave an add, a few
// loads and a compare-and-swap on the latency floor, one more at the end of
// a round or on a decrease. Nothing is allocated and every Window is one
// lane's: no state is shared between subscriptions. A worker finding the
// window full waits on the window's own wake channel.
package window
