// Command failrec lists the failure records of pushes (the Redis stream
// "<KeyPrefix>:failures") by subscription, topic, jobid or age, and re-sends
// the messages of given-up records. It only parses flags and prints what
// package failures returned.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/redis/rueidis"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/ops/cli"
	"medispatcher/internal/redisopt"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags("failrec", "usage: failrec [-f CONFIG] [--sub ID] [--topic T] [--jobid J] [--since D] [--json] [--resend]\n\n"+
		"Lists failure records, newest first. --resend puts the message of each\n"+
		"matching given_up record back into its channel tube (same jobid).\n"+
		"Records Redis did not take are FAILREC lines of the DATA log, with their\n"+
		"job: replay re-sends the given_up ones.\n", stderr)
	sub := fs.Int64("sub", 0, "only this subscription")
	topic := fs.String("topic", "", "only this topic")
	jobid := fs.String("jobid", "", "only this jobid")
	since := fs.Duration("since", 0, "only records younger than this (e.g. 1h)")
	limit := fs.Int64("limit", 1000, "newest records read from the stream")
	asJSON := fs.Bool("json", false, "print JSON lines")
	resend := fs.Bool("resend", false, "re-send the message of every matching given-up record")
	if code, done := fs.Parse(args, stdout); done {
		return code
	}
	cfg, err := fs.Load(stderr)
	if err != nil {
		return cli.ExitConfig
	}
	opt, err := redisopt.Option(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "failrec: %v\n", err)
		return cli.ExitConfig
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		fmt.Fprintf(stderr, "failrec: redis %s: %v\n", cfg.Redis.Addr, err)
		return cli.ExitFailed
	}
	defer c.Close()
	cutoff := time.Time{}
	if *since > 0 {
		cutoff = time.Now().Add(-*since)
	}
	recs, err := failures.Query(ctx, c, cfg.Redis.KeyPrefix+":failures", *limit, func(r *failures.Record) bool {
		return (*sub == 0 || r.SubID == *sub) && (*topic == "" || r.Topic == *topic) &&
			(*jobid == "" || r.JobID == *jobid) && (cutoff.IsZero() || r.Time.After(cutoff))
	})
	if err != nil {
		fmt.Fprintf(stderr, "failrec: %v\n", err)
		return cli.ExitFailed
	}
	enc := json.NewEncoder(stdout)
	if !*asJSON {
		fmt.Fprintf(stdout, "%-20s %-10s %-24s %6s %-30s %7s %-9s %s\n", "TIME", "LOG_ID", "TOPIC", "SUB", "JOBID", "RETRIES", "FINAL", "ERROR")
	}
	for _, r := range recs {
		if *asJSON {
			_ = enc.Encode(r.View())
			continue
		}
		fmt.Fprintf(stdout, "%-20s %-10d %-24s %6d %-30s %7d %-9s %s\n", r.Time.Format("2006-01-02 15:04:05"),
			r.LogID, r.Topic, r.SubID, r.JobID, r.RetryTimes, r.Final, r.Error)
	}
	if !*resend {
		return cli.ExitOK
	}
	pool, err := connpool.New(ctx, connpool.Config{Addrs: cfg.QueueServers})
	if err != nil {
		fmt.Fprintf(stderr, "failrec: %v\n", err)
		return cli.ExitFailed
	}
	defer pool.Close()
	code, sent := cli.ExitOK, 0
	seen := map[uint64]bool{}
	for _, r := range recs {
		if r.Final != failures.GivenUp || seen[r.LogID] {
			continue
		}
		seen[r.LogID] = true
		if err := failures.Resend(ctx, pool, r, cfg.PrefixOfChannelQueue); err != nil {
			fmt.Fprintf(stderr, "failrec: %v\n", err)
			code = cli.ExitFailed
			continue
		}
		sent++
	}
	fmt.Fprintf(stdout, "re-sent %d given-up messages\n", sent)
	return code
}
