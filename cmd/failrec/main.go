// Command failrec lists the failure records of pushes (the Redis stream
// "<KeyPrefix>:failures") by subscription, topic, jobid or age, and re-sends
// the messages of given-up records. It only parses flags and prints what
// package failures returned.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/ops/cli"
	"medispatcher/engine/ops/clipool"
	"medispatcher/internal/config"
	"medispatcher/internal/redisopt"
)

var tool = &cli.Tool{Name: "failrec", Usage: "usage: failrec [-f CONFIG] [--sub ID] [--topic T] [--jobid J] [--since D] [--json] [--resend]\n\n" +
	"Lists failure records, newest first. --resend puts the message of each\n" +
	"matching given_up record back into its channel tube (same jobid).\n" +
	"Records Redis did not take are FAILREC lines of the DATA log, with their\n" +
	"job: replay re-sends the given_up ones.\n",
	Flags: func(fs *flag.FlagSet) cli.Body {
		var q query
		fs.Int64Var(&q.sub, "sub", 0, "only this subscription")
		fs.StringVar(&q.topic, "topic", "", "only this topic")
		fs.StringVar(&q.jobid, "jobid", "", "only this jobid")
		fs.DurationVar(&q.since, "since", 0, "only records younger than this (e.g. 1h)")
		fs.Int64Var(&q.limit, "limit", 1000, "newest records read from the stream")
		asJSON := fs.Bool("json", false, "print JSON lines")
		resend := fs.Bool("resend", false, "re-send the message of every matching given-up record")
		return func(ctx context.Context, e *cli.Env) int {
			cfg, code := e.Config()
			if code != cli.ExitOK {
				return code
			}
			recs, code := q.run(ctx, e, cfg)
			if code != cli.ExitOK {
				return code
			}
			list(e, recs, *asJSON)
			if !*resend {
				return cli.ExitOK
			}
			return resendGivenUp(ctx, e, cfg, recs)
		}
	},
}

func main() { cli.Main(tool.Run) }

// query is which records to list.
type query struct {
	sub          int64
	topic, jobid string
	since        time.Duration
	limit        int64
}

// run reads the newest records of the stream that match q.
func (q *query) run(ctx context.Context, e *cli.Env, cfg *config.Config) ([]*failures.Record, int) {
	opt, err := redisopt.Option(cfg)
	if err != nil {
		return nil, e.Failf(cli.ExitConfig, "%v", err)
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, e.Failf(cli.ExitFailed, "redis %s: %v", cfg.Redis.Addr, err)
	}
	defer c.Close()
	cutoff := time.Time{}
	if q.since > 0 {
		cutoff = time.Now().Add(-q.since)
	}
	recs, err := failures.Query(ctx, c, cfg.Redis.KeyPrefix+":failures", q.limit, func(r *failures.Record) bool {
		return (q.sub == 0 || r.SubID == q.sub) && (q.topic == "" || r.Topic == q.topic) &&
			(q.jobid == "" || r.JobID == q.jobid) && (cutoff.IsZero() || r.Time.After(cutoff))
	})
	if err != nil {
		return nil, e.Failf(cli.ExitFailed, "%v", err)
	}
	return recs, cli.ExitOK
}

// list prints recs as a table, or as JSON lines.
func list(e *cli.Env, recs []*failures.Record, asJSON bool) {
	enc := json.NewEncoder(e.Stdout)
	if !asJSON {
		fmt.Fprintf(e.Stdout, "%-20s %-10s %-24s %6s %-30s %7s %-9s %s\n", "TIME", "LOG_ID", "TOPIC", "SUB", "JOBID", "RETRIES", "FINAL", "ERROR")
	}
	for _, r := range recs {
		if asJSON {
			_ = enc.Encode(r.View())
			continue
		}
		fmt.Fprintf(e.Stdout, "%-20s %-10d %-24s %6d %-30s %7d %-9s %s\n", r.Time.Format("2006-01-02 15:04:05"),
			r.LogID, r.Topic, r.SubID, r.JobID, r.RetryTimes, r.Final, r.Error)
	}
}

// resendGivenUp puts the message of each given-up record of recs back into
// its channel tube, once per log id.
func resendGivenUp(ctx context.Context, e *cli.Env, cfg *config.Config, recs []*failures.Record) int {
	pool, code := clipool.Connect(ctx, e, cfg)
	if code != cli.ExitOK {
		return code
	}
	defer pool.Close()
	sent := 0
	seen := map[uint64]bool{}
	for _, r := range recs {
		if r.Final != failures.GivenUp || seen[r.LogID] {
			continue
		}
		seen[r.LogID] = true
		if err := failures.Resend(ctx, pool, r, cfg.PrefixOfChannelQueue); err != nil {
			code = e.Failf(cli.ExitFailed, "%v", err)
			continue
		}
		sent++
	}
	fmt.Fprintf(e.Stdout, "re-sent %d given-up messages\n", sent)
	return code
}
