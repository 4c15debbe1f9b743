package bench

import (
	"context"
	"time"

	"medispatcher/loadgen/stages"
)

// sample is what the bench reads of a run's processes right before and
// right after it: their CPU, beanstalkd's command counters, the daemons'
// stage histograms and their database counters (source mysql), all
// cumulative since they started, and when it read them.
type sample struct {
	at                        time.Time
	cpu, beanstalkdCPU, dbCPU float64
	cmds                      map[string]int64
	stages                    stages.Buckets
	db                        map[string]float64
}

// sample reads e's processes.
func (e *Env) sample(ctx context.Context) sample {
	return sample{at: time.Now(), cpu: e.DaemonCPU(), beanstalkdCPU: e.BeanstalkdCPU(), dbCPU: e.DatabaseCPU(),
		cmds: e.BeanstalkdCmds(), stages: e.StageBuckets(ctx), db: e.DatabaseCounters(ctx)}
}

// account sets rr's costs, stage timings and database work from the
// samples taken around its run, and notes the per-message commands, the
// stages and the database's work in its report.
func (rr *RunResult) account(before, after sample) {
	rep := rr.Report
	rr.CPUSec = after.cpu - before.cpu
	if rep.Ledger.Delivered > 0 {
		rr.CPUPer1k = rr.CPUSec / float64(rep.Ledger.Delivered) * 1000
		rr.BeanstalkdCPUPer1k = (after.beanstalkdCPU - before.beanstalkdCPU) / float64(rep.Ledger.Delivered) * 1000
		rr.BeanstalkdCmds = cmdsPerMsg(before.cmds, after.cmds, rep.Ledger.Delivered)
		if t := cmdsText(rr.BeanstalkdCmds); t != "" {
			rep.Notes = append(rep.Notes, t)
		}
	}
	rr.Database = databaseWork(before, after, rep.Ledger.Delivered)
	if t := databaseText(rr.Database, rr.BeanstalkdCPUPer1k); t != "" {
		rep.Notes = append(rep.Notes, t)
	}
	rr.Stages = stages.Delta(before.stages, after.stages)
	if t := stages.Text(rr.Stages); t != "" {
		rep.Notes = append(rep.Notes, t)
	}
}
