package ceiling

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/internal/wire"
	"medispatcher/loadgen/bstalk"
)

// Kind is a dispatch cycle.
type Kind int

// The cycles measured.
const (
	// SixOps is today's dispatch: put main → reserve → put channel →
	// delete main → reserve channel → delete channel.
	SixOps Kind = iota
	// ThreeOps hands the message straight on: put main → reserve → delete.
	ThreeOps
)

func (k Kind) String() string {
	if k == ThreeOps {
		return "three-op"
	}
	return "six-op"
}

// Cycle returns cycles of kind per second with tubes channel tubes
// watched (at least one per pipeline), and beanstalkd's CPU per 1000
// cycles when cfg.CPU is set. Every cycle it starts it finishes: the
// tubes are left empty.
//
// Each pipeline watches its own share of the channel tubes on one
// connection, as the daemon watches all of them on one, and puts each
// batch into the next tube of its share: a tube switch ("use") per batch,
// as today's ceiling with one tube per pipeline pays. The three-op cycle
// keeps the same tubes watched, idle, so that beanstalkd's work per tube
// is the same in both cycles.
func Cycle(ctx context.Context, cfg Config, kind Kind, tubes int) (Rate, error) {
	cfg = cfg.withDefaults()
	tubes = max(tubes, cfg.Pipelines)
	ps := make([]*pipeline, 0, cfg.Pipelines)
	defer func() {
		for _, p := range ps {
			p.close()
		}
	}()
	for w := range cfg.Pipelines {
		p, err := dialPipeline(cfg, w, channelTubes(w, cfg.Pipelines, tubes))
		if err != nil {
			return Rate{}, err
		}
		ps = append(ps, p)
	}
	cpu0, cpuErr := readCPU(cfg)
	n, el, err := runPipelines(ctx, cfg.Duration, kind, ps)
	if err != nil {
		return Rate{}, fmt.Errorf("ceiling: %s cycle, %d tubes: %w", kind, tubes, err)
	}
	r := Rate{PerS: float64(n) / el}
	if cpu1, err := readCPU(cfg); err == nil && cpuErr == nil && n > 0 {
		r.CPUPer1k = (cpu1 - cpu0) / float64(n) * 1000
	}
	return r, nil
}

// readCPU is cfg.CPU, an error when there is none.
func readCPU(cfg Config) (float64, error) {
	if cfg.CPU == nil {
		return 0, fmt.Errorf("ceiling: no CPU reader")
	}
	return cfg.CPU()
}

// runPipelines runs every pipeline for d and returns the cycles done and
// the seconds they took.
func runPipelines(ctx context.Context, d time.Duration, kind Kind, ps []*pipeline) (int64, float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(ps))
	start := time.Now()
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(ctx, kind, &done); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	select {
	case err := <-errs:
		return 0, el, err
	default:
	}
	return done.Load(), el, nil
}

// channelTubes are pipeline w's share of tubes channel tubes: every
// pipelines-th one from w.
func channelTubes(w, pipelines, tubes int) []string {
	var out []string
	for k := w; k < tubes; k += pipelines {
		out = append(out, fmt.Sprintf("ceiling.ch.%d", k))
	}
	return out
}

// pipeline is one concurrent dispatch cycle: a producer connection, one
// reserving the main tube, one watching the pipeline's channel tubes.
type pipeline struct {
	prod, resMain, resCh *bstalk.Conn
	mainTube             string
	chTubes              []string
	next                 int // the channel tube of the next batch
	body                 []byte
	puts, res, dels      []bstalk.Request
}

func dialPipeline(cfg Config, w int, chTubes []string) (*pipeline, error) {
	p := &pipeline{mainTube: fmt.Sprintf("ceiling.main.%d", w), chTubes: chTubes,
		body: []byte(strings.Repeat("x", cfg.Size)),
		puts: make([]bstalk.Request, cfg.Batch), res: make([]bstalk.Request, cfg.Batch), dels: make([]bstalk.Request, cfg.Batch)}
	for _, c := range []**bstalk.Conn{&p.prod, &p.resMain, &p.resCh} {
		conn, err := bstalk.Dial(cfg.Beanstalkd, 5*time.Second)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("ceiling: %w", err)
		}
		*c = conn
	}
	if err := watchOnly(p.resMain, []string{p.mainTube}); err != nil {
		p.close()
		return nil, err
	}
	if err := watchOnly(p.resCh, chTubes); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// watchOnly makes c watch tubes and not "default", pipelined.
func watchOnly(c *bstalk.Conn, tubes []string) error {
	rs := make([]bstalk.Request, len(tubes)+1)
	for i, t := range tubes {
		rs[i] = bstalk.Request{Op: bstalk.OpWatch, Tube: t}
		c.Send(&rs[i])
	}
	rs[len(tubes)] = bstalk.Request{Op: bstalk.OpIgnore, Tube: "default"}
	c.Send(&rs[len(tubes)])
	for i := range rs {
		if err := rs[i].Wait(); err != nil {
			return fmt.Errorf("ceiling: %d %s: %w", rs[i].Op, rs[i].Tube, err)
		}
	}
	return nil
}

func (p *pipeline) close() {
	for _, c := range []*bstalk.Conn{p.prod, p.resMain, p.resCh} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// run cycles batches until ctx ends, finishing the batch under way.
func (p *pipeline) run(ctx context.Context, kind Kind, done *atomic.Int64) error {
	for ctx.Err() == nil {
		for i := range p.puts { // put main
			setPut(&p.puts[i], p.mainTube, p.body)
			p.prod.Send(&p.puts[i])
		}
		if err := wait(p.puts); err != nil {
			return err
		}
		next := ""
		if kind == SixOps {
			next = p.chTubes[p.next]
			p.next = (p.next + 1) % len(p.chTubes)
		}
		if err := p.stage(p.resMain, next); err != nil {
			return err
		}
		if kind == SixOps {
			if err := p.stage(p.resCh, ""); err != nil {
				return err
			}
		}
		done.Add(int64(len(p.puts)))
	}
	return nil
}

// stage reserves a batch on res, puts each job into tube next (unless
// ""), and deletes it.
func (p *pipeline) stage(res *bstalk.Conn, next string) error {
	for i := range p.res {
		p.res[i].Op, p.res[i].Timeout = bstalk.OpReserve, 1
		res.Send(&p.res[i])
	}
	if err := wait(p.res); err != nil {
		return err
	}
	for i := range p.res {
		if next != "" {
			setPut(&p.puts[i], next, p.res[i].Body)
			p.prod.Send(&p.puts[i])
		}
		p.dels[i].Op, p.dels[i].ID = bstalk.OpDelete, p.res[i].ID
		res.Send(&p.dels[i])
	}
	if next != "" {
		if err := wait(p.puts); err != nil {
			return err
		}
	}
	return wait(p.dels)
}

// setPut makes r a put of body into tube, keeping its answer channel.
func setPut(r *bstalk.Request, tube string, body []byte) {
	r.Op, r.Tube, r.Body, r.Pri, r.TTR = bstalk.OpPut, tube, body, wire.Priority, wire.TTRSeconds
}

func wait(rs []bstalk.Request) error {
	for i := range rs {
		if err := rs[i].Wait(); err != nil {
			return fmt.Errorf("op %d: %w", rs[i].Op, err)
		}
	}
	return nil
}
