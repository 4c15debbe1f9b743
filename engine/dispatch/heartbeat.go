package dispatch

import (
	"sync/atomic"
	"time"
)

// heartbeatEvery is how often a redistributor stamps the heartbeat. A
// watchdog that trusts the heartbeat must allow for it: its interval must
// be several times longer.
const heartbeatEvery = 250 * time.Millisecond

// heartbeat tells that the redistributors go round their loop. One ticker
// serves all of them: whichever is waiting for a main job takes the tick
// and stamps the time, so the stamp goes stale only when none of them
// comes back to wait (each one stuck in a message), not when the main
// tube is idle. A message costs nothing: the stamp is written per tick,
// never per message, and no lock is taken.
type heartbeat struct {
	at   atomic.Int64 // unix ns of the last stamp; 0 before Run
	tick *time.Ticker // set by Run before the redistributors start
}

// start makes the ticker; Run calls it before starting the redistributors.
func (h *heartbeat) start() { h.tick = time.NewTicker(heartbeatEvery) }

// stop stops the ticker once the redistributors have returned.
func (h *heartbeat) stop() { h.tick.Stop() }

// stamp records that a redistributor went round its loop now.
func (h *heartbeat) stamp() { h.at.Store(time.Now().UnixNano()) }

// Heartbeat returns when a redistributor last went round its loop (the
// zero time before Run). Such a round comes every heartbeatEvery while the
// engine runs, with the main tube busy or idle; a stamp older than that
// means every redistributor is stuck, and none after the engine stopped.
func (e *Engine) Heartbeat() time.Time {
	ns := e.beat.at.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
