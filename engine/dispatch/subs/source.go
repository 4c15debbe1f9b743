package subs

import "context"

// Source keeps a daemon's subscriptions current.
type Source interface {
	// Run delivers the full current set to apply at start and after every
	// change (an invalid entry keeps its last good version, or is left out
	// when it has none, and is logged with its reason; a source that cannot
	// be read keeps the last good set), until ctx is done. apply is called from Run's goroutine, one call at a time, and
	// should return quickly; a set equal to the last one is not applied
	// again. Run returns nil when ctx is done.
	//
	// The first apply comes once the source has been read: a file or a
	// Redis server that cannot be read at start delays it (logged, and
	// retried), because dispatching with no subscriptions would discard
	// every message. A subscriptions file missing at start counts as read
	// and empty.
	Run(ctx context.Context, apply func(*Set)) error
}

// Problemer is implemented by sources that can say why they hold no usable
// set ("subscriptions file /etc/x.toml does not exist", "hash … is empty"),
// or "" when they have none to report.
type Problemer interface {
	Problem() string
}
