// Package dispatch is medispatcher's dispatcher: it gives every job of the
// main tube to each subscription of its topic — handed straight to a free
// push worker (CutThrough) or put into the subscription's channel tube —
// pushes the copies to the subscribers over HTTP, and moves failed pushes
// through the retry tube until they succeed or are given up.
//
// One Consumer of connpool reserves the main tube(s) and one reserves every
// channel and retry tube, so the number of beanstalkd connections does not
// depend on the number of subscriptions. Each subscription owns two lanes
// (channel and retry), each a bounded queue with its own workers; a lane
// that is full stops its tube being reserved (Ignore) until it drains, so a
// slow subscriber slows only itself. The engine never drops a job it cannot
// handle: undecodable jobs go to the DATA log (main tube) or are buried
// (channel tubes), and whatever it will not push at shutdown is released
// (a direct copy is spilled into its channel tube).
//
// A DATA-log line that is a message's only copy (DECODERR, REDISTFAIL,
// DROP) must be on disk before the job it copies is deleted: the engine
// waits for it, and when it cannot be written the job is released with
// KeepDelay instead (counted, alerted). The main tube is not reserved while
// the live subscription set is empty, unless AllowEmptySet says that is
// meant: a missing subscriptions file or an empty Redis hash must never turn
// into every message deleted as unsubscribed.
//
// Where each concept lives:
//
//   - options.go: Options, the engine's settings, and their defaults.
//   - deps.go: Deps, the collaborators (DataLog, Observer, alerts).
//   - engine.go: Engine: New, Run, the graceful stop, status accessors.
//   - apply.go: Apply, a new subscription set made live (runners started,
//     updated, stopped).
//   - redist.go: redistribution, main-tube job → one channel job per
//     subscription (with the drop_threshold guard), then its delete.
//   - keep.go: a job kept in its tube when its only-copy line cannot be
//     written.
//   - route.go: a reserved channel or retry job → its subscription's lane
//     (old-format jobs by their tube name).
//   - cutthrough.go: CutThrough: a copy handed to a free push slot, its
//     main job held until every copy is settled (fan), spills, and the
//     check that finds a spilled-into channel tube empty again.
//   - channeljob.go: channelJob, a channel job decoded once on arrival (or
//     a direct copy) handed on to the worker that pushes it.
//   - runner.go: runner, one subscription: its two lanes, token bucket,
//     metrics; start, live update, stop.
//   - params.go: params, a subscription's effective settings (its own or
//     the defaults, bounded).
//   - lane.go: lane, one tube of a subscription: its queue and worker set.
//   - worker.go: worker, one push routine: pacing, the push, its outcome.
//   - retry.go: a failed push → the retry tube with the next delay, or
//     given up; the failure records.
//   - sampler.go: what the daemon's backlog sampler reports: the channel
//     backlog for the drop guard; tubeWatch, which watches retry tubes
//     (LazyRetryWatch) and channel tubes (CutThrough) only while they may
//     hold jobs.
//   - gate.go: gate, a queue's length → Watch/Ignore of its tube.
//   - pushwindow.go: AdaptiveWindow: each lane's push window (package
//     window), room in it taken before a job, the gate's watermarks and
//     cut-through's free slots following it, its metrics.
//   - metrics.go: the engine's and each subscription's metrics (the stage
//     timings, package stage, are written by the live engine).
package dispatch
