package bench

import (
	"context"

	"medispatcher/loadgen/stages"
)

// sample is what the bench reads of a run's processes right before and
// right after it: their CPU, beanstalkd's command counters and the
// daemons' stage histograms, all cumulative since they started.
type sample struct {
	cpu, beanstalkdCPU float64
	cmds               map[string]int64
	stages             stages.Buckets
}

// sample reads e's processes.
func (e *Env) sample(ctx context.Context) sample {
	return sample{cpu: e.DaemonCPU(), beanstalkdCPU: e.BeanstalkdCPU(), cmds: e.BeanstalkdCmds(), stages: e.StageBuckets(ctx)}
}

// account sets rr's costs and stage timings from the samples taken around
// its run, and notes the per-message commands and the stages in its report.
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
	rr.Stages = stages.Delta(before.stages, after.stages)
	if t := stages.Text(rr.Stages); t != "" {
		rep.Notes = append(rep.Notes, t)
	}
}
