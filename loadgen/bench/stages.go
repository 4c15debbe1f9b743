package bench

import (
	"context"

	"medispatcher/loadgen/stages"
)

// StageBuckets scrapes every daemon of e's /metrics and sums their stage
// buckets; nil when a daemon does not answer, or answers without them,
// since a partial sum would spoil the difference between two snapshots.
func (e *Env) StageBuckets(ctx context.Context) stages.Buckets {
	urls := make([]string, len(e.Daemons))
	for i, d := range e.Daemons {
		urls[i] = "http://" + d.PromAddr + "/metrics"
	}
	sum, err := stages.Scrape(ctx, urls)
	if err != nil {
		return nil
	}
	return sum
}
