package bench

import (
	"context"
	"fmt"

	"medispatcher/loadgen"
	"medispatcher/loadgen/farm"
)

// runWatch is what the bench watches of a run beside loadgen's report, on
// a farm of its own: the outages' edges (outageWatch) and the overloaded
// classes' push counters and windows (overloadWatch). A nil runWatch is a
// run with neither.
type runWatch struct {
	farm     *farm.Farm
	outage   *outageWatch
	overload *overloadWatch
}

// startRunWatch gives a run of cfg with an outage or an overloaded class a
// farm of the bench's own (cfg.Farm) and starts watching; nil for a run
// with neither. The watch's finish closes the farm.
func startRunWatch(ctx context.Context, env *Env, cfg *loadgen.Config) (*runWatch, error) {
	outage, overload := hasOutage(cfg.Classes), hasCapacity(cfg.Classes)
	if !outage && !overload {
		return nil, nil
	}
	f, err := loadgen.NewFarm(*cfg)
	if err != nil {
		return nil, fmt.Errorf("farm of the watched run: %w", err)
	}
	cfg.Farm = f
	w := &runWatch{farm: f}
	if outage {
		w.outage = watchOutages(ctx, env, f)
	}
	if overload {
		w.overload = watchOverloads(ctx, env, f, cfg)
	}
	return w, nil
}

// finish stops the watches, puts their figures into rr and closes the
// farm.
func (w *runWatch) finish(rr *RunResult) {
	if w == nil {
		return
	}
	if w.outage != nil {
		rr.Outages = w.outage.finish()
	}
	if w.overload != nil {
		rr.Overloads = w.overload.finish()
	}
	closeFarm(w.farm)
}
