package bench

import (
	"context"

	"medispatcher/loadgen/ceiling"
)

// measureCeiling measures the ceiling on a beanstalkd of its own, in this
// same run: both cycles with a channel tube per pipeline (today's figure)
// and with as many channel tubes as the scenario with the most topics.
func measureCeiling(ctx context.Context, o Options, scs []*Scenario, runDir string) (ceiling.Result, error) {
	size := scs[0].Size
	if size <= 0 {
		size = 512
	}
	tubes := []int{0} // the default: one per pipeline
	if n := maxTopics(scs); n > 1 {
		tubes = append(tubes, n)
	}
	srv, err := StartServer("beanstalkd", runDir)
	if err != nil {
		return ceiling.Result{}, err
	}
	res, err := ceiling.Measure(ctx, ceiling.Config{Beanstalkd: srv.Addr, Duration: o.Ceiling, Size: size, Tubes: tubes, CPU: srv.CPUSeconds})
	srv.Stop()
	if err != nil {
		return res, err
	}
	for _, c := range res.Cycles {
		logf(o, "bench: ceiling: beanstalkd %s", c)
	}
	logf(o, "bench: ceiling: fasthttp %.0f req/s", res.HTTPRate)
	return res, nil
}

// maxTopics is the most topics of any scenario.
func maxTopics(scs []*Scenario) int {
	n := 0
	for _, s := range scs {
		n = max(n, s.topics())
	}
	return n
}
