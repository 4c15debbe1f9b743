// Package ceiling measures what the machine can do without medispatcher:
// the bare beanstalkd dispatch cycles over raw pipelined connections, and
// fasthttp client→server requests per second on loopback. Benchmark
// scenarios are reported as a ratio to these figures, measured in the same
// run on the same machine.
//
// Two cycles are measured, each with the same set of channel tubes
// watched, so that beanstalkd's per-tube work is the same in both:
//
//   - six operations, today's dispatch: put main → reserve → put channel →
//     delete main → reserve channel → delete channel;
//   - three operations, a message handed straight on: put main → reserve →
//     delete; the channel tubes are watched by an idle connection only.
//
// It uses its own tubes ("ceiling.*") on the server it is given and must
// never be pointed at a server that carries real traffic.
package ceiling

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Config of a measurement.
type Config struct {
	Beanstalkd string        // loopback beanstalkd
	Duration   time.Duration // of each measurement; default 5 s
	Size       int           // job / form body size; default 512
	Pipelines  int           // concurrent dispatch cycles; default 4
	Batch      int           // jobs per pipelined step; default 64
	HTTPConns  int           // concurrent HTTP requests; default 64
	// Tubes lists the channel-tube counts both cycles are measured with,
	// in order; each count is at least Pipelines (every pipeline has a
	// tube of its own). Default: one measurement at Pipelines tubes.
	Tubes []int
	// CPU, when set, returns the beanstalkd process's CPU seconds so far;
	// each cycle then carries the server's CPU per 1000 cycles.
	CPU func() (float64, error)
}

// Result of a measurement.
type Result struct {
	CycleRate  float64  `json:"beanstalkd_cycle_per_s"`  // six operations, Cycles[0]
	Cycle3Rate float64  `json:"beanstalkd_cycle3_per_s"` // three operations, Cycles[0]
	HTTPRate   float64  `json:"fasthttp_req_per_s"`
	Cycles     []Cycles `json:"cycles,omitempty"` // per tube count of Config.Tubes
}

// Cycles are both cycles measured with the same channel tubes.
type Cycles struct {
	Tubes int  `json:"channel_tubes"`
	Six   Rate `json:"six_op"`
	Three Rate `json:"three_op"`
}

// Rate is one cycle's measurement.
type Rate struct {
	PerS     float64 `json:"per_s"`
	CPUPer1k float64 `json:"beanstalkd_cpu_s_per_1k,omitempty"` // 0: not measured
}

// Measure runs every cycle measurement, then the HTTP one.
func Measure(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	var r Result
	for _, n := range cfg.Tubes {
		c := Cycles{Tubes: max(n, cfg.Pipelines)}
		var err error
		if c.Six, err = Cycle(ctx, cfg, SixOps, n); err != nil {
			return r, err
		}
		if c.Three, err = Cycle(ctx, cfg, ThreeOps, n); err != nil {
			return r, err
		}
		r.Cycles = append(r.Cycles, c)
	}
	r.CycleRate, r.Cycle3Rate = r.Cycles[0].Six.PerS, r.Cycles[0].Three.PerS
	var err error
	r.HTTPRate, err = HTTP(ctx, cfg)
	return r, err
}

func (cfg Config) withDefaults() Config {
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Size <= 0 {
		cfg.Size = 512
	}
	if cfg.Pipelines <= 0 {
		cfg.Pipelines = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.HTTPConns <= 0 {
		cfg.HTTPConns = 64
	}
	if len(cfg.Tubes) == 0 {
		cfg.Tubes = []int{cfg.Pipelines}
	}
	return cfg
}

// At returns the cycles measured with the tube count nearest topics (by
// ratio: 50 is nearer 500 than 4); without Cycles, the top-level rates.
func (r Result) At(topics int) Cycles {
	if len(r.Cycles) == 0 {
		return Cycles{Six: Rate{PerS: r.CycleRate}, Three: Rate{PerS: r.Cycle3Rate}}
	}
	best := r.Cycles[0]
	dist := func(n int) float64 { return math.Abs(math.Log(float64(max(n, 1)) / float64(max(topics, 1)))) }
	for _, c := range r.Cycles[1:] {
		if dist(c.Tubes) < dist(best.Tubes) {
			best = c
		}
	}
	return best
}

// String is the cycles in one line.
func (c Cycles) String() string {
	s := fmt.Sprintf("%d channel tubes: six-op %.0f/s, three-op %.0f/s", c.Tubes, c.Six.PerS, c.Three.PerS)
	if c.Six.CPUPer1k > 0 || c.Three.CPUPer1k > 0 {
		s += fmt.Sprintf("; beanstalkd CPU %.3f / %.3f s per 1k cycles", c.Six.CPUPer1k, c.Three.CPUPer1k)
	}
	return s
}
