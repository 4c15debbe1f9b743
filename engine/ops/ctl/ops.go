package ctl

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/redact"
)

func cleanCommand() *command {
	return &command{
		name:    "clean",
		args:    "ID",
		summary: "delete the ready (and optionally delayed, buried) jobs of a subscription's tubes",
		help: `Deletes up to a snapshot of the counts, so it ends while messages keep
arriving. Every deleted job goes to the drop log first (replay restores it).
On a terminal it asks first unless --yes; elsewhere it refuses without --yes.
--dry-run only counts.`,
		long: true,
		setup: func(fs *flag.FlagSet) action {
			delayed := fs.Bool("delayed", false, "also delayed jobs (retries not yet due)")
			buried := fs.Bool("buried", false, "also buried jobs")
			dry := fs.Bool("dry-run", false, "count only, delete nothing")
			yes := fs.Bool("yes", false, "do not ask for confirmation")
			return func(ctx context.Context, r *runner, args []string) error {
				id, err := subID(args)
				if err != nil {
					return err
				}
				if !*dry && !*yes {
					if err := confirmClean(ctx, r, id, *delayed, *buried); err != nil {
						return err
					}
				}
				return operate(ctx, r, subPath(id, "clean"), adminapi.CleanRequest{Delayed: *delayed, Buried: *buried, DryRun: *dry},
					func(res *adminapi.OpResult[adminapi.CleanReport]) error { return printCleaned(r, res, *dry) })
			}
		},
	}
}

// confirmClean asks the operator whether to delete the jobs of
// subscription id. The question names the topic and backlog, and a wrong
// id fails here, before anything is asked.
func confirmClean(ctx context.Context, r *runner, id int64, delayed, buried bool) error {
	if !r.env.Interactive {
		return usageErrorf("standard input is not a terminal: give --yes to delete (or --dry-run to count)")
	}
	var v adminapi.SubView
	if _, err := r.call(ctx, "GET", subPath(id), nil, nil, &v); err != nil {
		return err
	}
	states := "ready"
	if delayed {
		states += ", delayed"
	}
	if buried {
		states += ", buried"
	}
	topic := ""
	if v.Subscription != nil {
		topic = v.Topic
	}
	q := fmt.Sprintf("Delete the %s jobs of subscription %d (topic %q; channel %s; retry %s)?",
		states, id, topic, counts(v.Channel), counts(v.Retry))
	return r.confirm(ctx, q)
}

func printCleaned(r *runner, res *adminapi.OpResult[adminapi.CleanReport], dry bool) error {
	return printReports(r, res.Reports, []string{"SERVER", "TUBE", "STATE", "FOUND", "DELETED"},
		func(c adminapi.CleanReport) ([]string, int64, int64) {
			return []string{c.Server, c.Tube, c.State, itoa(c.Found), itoa(int64(c.Deleted))}, c.Found, int64(c.Deleted)
		},
		func(found, deleted int64) string {
			if dry {
				return fmt.Sprintf("dry run: %d jobs found, none deleted", found)
			}
			return fmt.Sprintf("%d of %d jobs found deleted (each in the drop log)", deleted, found)
		})
}

// printReports prints one row per report under header (none: no table
// at all when there are no reports), then the line done makes of the
// sums of the two counts each row gives.
func printReports[T any](r *runner, reports []T, header []string, row func(T) ([]string, int64, int64), done func(a, b int64) string) error {
	t := newTable(r.env.Stdout, header...)
	var a, b int64
	for _, rep := range reports {
		cells, x, y := row(rep)
		t.row(cells...)
		a, b = a+x, b+y
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(r.env.Stdout, done(a, b))
	return nil
}

// operate POSTs an operation over several tubes to path and prints its
// answer (human's form of it, or with --json the JSON as it came), then
// the problems it met, which fail the command.
func operate[T any](ctx context.Context, r *runner, path string, body any, human func(*adminapi.OpResult[T]) error) error {
	var res adminapi.OpResult[T]
	if err := send(ctx, r, "POST", path, body, &res, func() error { return human(&res) }); err != nil {
		return err
	}
	return r.opErrors(res.Errors)
}

// confirm asks question on a terminal and wants "y" or "yes"; without a
// terminal it refuses, since nobody can answer.
func (r *runner) confirm(ctx context.Context, question string) error {
	if !r.env.Interactive {
		return usageErrorf("standard input is not a terminal: give --yes to go ahead")
	}
	fmt.Fprintf(r.env.Stderr, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r.env.Stdin).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case a := <-answer:
		if a == "y" || a == "yes" {
			return nil
		}
		return errAborted
	case <-ctx.Done():
		fmt.Fprintln(r.env.Stderr)
		return ctx.Err()
	}
}

// opErrors prints the problems an operation met (it went on past them)
// and fails the command when there were any.
func (r *runner) opErrors(errs []string) error {
	for _, e := range errs {
		fmt.Fprintf(r.env.Stderr, "medictl: %s\n", e)
	}
	if len(errs) > 0 {
		return &reportedError{n: len(errs)}
	}
	return nil
}

func kickCommand() *command {
	return &command{
		name:    "kick",
		summary: "kick every buried job of the main, channel and retry tubes back to ready (the amender)",
		long:    true,
		setup: func(fs *flag.FlagSet) action {
			dry := fs.Bool("dry-run", false, "count buried jobs only, kick nothing")
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				return operate(ctx, r, "/api/v1/kick", adminapi.KickRequest{DryRun: *dry},
					func(res *adminapi.OpResult[adminapi.KickReport]) error { return printKicked(r, res, *dry) })
			}
		},
	}
}

func printKicked(r *runner, res *adminapi.OpResult[adminapi.KickReport], dry bool) error {
	header := []string{"SERVER", "TUBE", "BURIED", "KICKED", "ERROR"}
	if len(res.Reports) == 0 {
		header = nil // nothing buried anywhere: no table
	}
	return printReports(r, res.Reports, header,
		func(k adminapi.KickReport) ([]string, int64, int64) {
			return []string{k.Server, k.Tube, itoa(k.Buried), itoa(int64(k.Kicked)), orDash(k.Error)}, k.Buried, int64(k.Kicked)
		},
		func(buried, kicked int64) string {
			if dry {
				return fmt.Sprintf("dry run: %d buried jobs, none kicked", buried)
			}
			return fmt.Sprintf("%d of %d buried jobs kicked", kicked, buried)
		})
}

// finalStates are the states a failure record's final field takes in the
// API (openapi.yaml, Failure.final).
var finalStates = []string{"retrying", "success", "given_up"}

func failuresCommand() *command {
	return &command{
		name:    "failures",
		summary: "failure records of pushes, newest first",
		setup: func(fs *flag.FlagSet) action {
			sub := fs.Int64("sub", 0, "only this subscription")
			topic := fs.String("topic", "", "only this topic")
			jobid := fs.String("jobid", "", "only this jobid")
			final := fs.String("final", "", "only records in this state: "+strings.Join(finalStates, ", "))
			since := fs.Duration("since", 0, "only records younger than this (30m, 2h)")
			limit := fs.Int64("limit", 0, "newest stream entries read (default 1000, at most 100000)")
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				q := url.Values{}
				if *sub != 0 {
					if *sub < 0 {
						return usageErrorf("--sub %d: want a subscription id", *sub)
					}
					q.Set("sub", strconv.FormatInt(*sub, 10))
				}
				if *topic != "" {
					q.Set("topic", *topic)
				}
				if *jobid != "" {
					q.Set("jobid", *jobid)
				}
				if *final != "" {
					if !contains(finalStates, *final) {
						return usageErrorf("--final %q: want one of %s", *final, strings.Join(finalStates, ", "))
					}
					q.Set("final", *final)
				}
				if *since < 0 {
					return usageErrorf("--since %v: want a positive duration", *since)
				}
				if *since > 0 {
					q.Set("since", since.String())
				}
				if *limit != 0 {
					if *limit < 0 || *limit > 100000 {
						return usageErrorf("--limit %d: want 1..100000", *limit)
					}
					q.Set("limit", strconv.FormatInt(*limit, 10))
				}
				return get(ctx, r, "/api/v1/failures", q, func(l *adminapi.FailureList) error {
					if len(l.Records) == 0 {
						fmt.Fprintln(r.env.Stdout, "(no failure records)")
						return nil
					}
					t := newTable(r.env.Stdout, "TIME", "LOG_ID", "TOPIC", "SUB", "JOBID", "RETRIES", "FINAL", "JOB", "ERROR")
					for _, f := range l.Records {
						job := "-"
						if f.HasJob {
							job = "kept"
						}
						t.row(stamp(f.Time), strconv.FormatUint(f.LogID, 10), f.Topic, itoa(f.Sub), f.JobID,
							strconv.Itoa(f.RetryTimes), f.Final, job, redact.URL(f.Error))
					}
					return t.flush()
				})
			}
		},
	}
}

// uintList is a repeatable flag of unsigned integers, also
// comma-separated.
type uintList []uint64

func (l *uintList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.FormatUint(v, 10)
	}
	return strings.Join(parts, ",")
}

func (l *uintList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a log id", p)
		}
		*l = append(*l, v)
	}
	return nil
}

func resendCommand() *command {
	return &command{
		name:    "resend",
		args:    "(--log-id N ... | --sub ID)",
		summary: "put the message of given-up failure records back into their channel tubes (same jobid)",
		help: `Give --log-id (repeated or comma-separated) for single records, or --sub for
every given-up record of one subscription. Only records whose message was
kept (JOB "kept" in medictl failures) can be re-sent.`,
		long: true,
		setup: func(fs *flag.FlagSet) action {
			var ids uintList
			fs.Var(&ids, "log-id", "log id of a given-up record (repeatable, or comma-separated)")
			sub := fs.Int64("sub", 0, "every given-up record of this subscription")
			limit := fs.Int64("limit", 0, "newest stream entries searched (default 10000)")
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if (len(ids) == 0) == (*sub == 0) {
					return usageErrorf("give --log-id or --sub (one of them)")
				}
				if *sub < 0 || *limit < 0 {
					return usageErrorf("--sub and --limit must be positive")
				}
				var res adminapi.ResendResult
				err := send(ctx, r, "POST", "/api/v1/failures/resend", adminapi.ResendRequest{LogIDs: ids, Sub: *sub, Limit: *limit}, &res,
					func() error {
						sent := uintList(res.Resent)
						fmt.Fprintf(r.env.Stdout, "re-sent %d given-up messages", len(res.Resent))
						if len(sent) > 0 {
							fmt.Fprintf(r.env.Stdout, " (log ids %s)", sent.String())
						}
						fmt.Fprintln(r.env.Stdout)
						return nil
					})
				if err != nil {
					return err
				}
				return r.opErrors(res.Errors)
			}
		},
	}
}

func recoverCommand() *command {
	return &command{
		name:    "recover",
		summary: "the recover lists producers fall back to and the entries waiting in them",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				return get(ctx, r, "/api/v1/recover", nil, func(st *adminapi.RecoverStatus) error {
					fmt.Fprintf(r.env.Stdout, "%d entries waiting in %d recover lists (%s*)\n", st.Total, len(st.Lists), st.Prefix)
					if len(st.Lists) == 0 {
						return nil
					}
					t := newTable(r.env.Stdout, "LIST", "LENGTH")
					for _, l := range st.Lists {
						t.row(l.Key, itoa(l.Length))
					}
					return t.flush()
				})
			}
		},
	}
}

func alertsCommand() *command {
	return &command{
		name:    "alerts",
		summary: "recent alerts, newest first",
		setup: func(fs *flag.FlagSet) action {
			limit := fs.Int("limit", 0, "how many (default 100, at most 1000)")
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				q := url.Values{}
				if *limit != 0 {
					if *limit < 0 || *limit > 1000 {
						return usageErrorf("--limit %d: want 1..1000", *limit)
					}
					q.Set("limit", strconv.Itoa(*limit))
				}
				return get(ctx, r, "/api/v1/alerts", q, func(l *adminapi.AlertList) error {
					if len(l.Alerts) == 0 {
						fmt.Fprintln(r.env.Stdout, "(no alerts)")
						return nil
					}
					return printAlerts(r, l.Alerts)
				})
			}
		},
	}
}

func alertSettingsCommand() *command {
	return &command{
		name:    "alerts settings",
		summary: "default alarm receiver and channel, global alert thresholds",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				return get(ctx, r, "/api/v1/alerts/settings", nil, func(s *adminapi.AlertSettings) error {
					return printAlertSettings(r, s)
				})
			}
		},
	}
}

func alertSetCommand() *command {
	return &command{
		name:    "alerts set",
		args:    "key=value ...",
		summary: "change global alert settings live, until the daemon restarts",
		help:    "Keys: " + wrap(strings.Join(alertSchema.keys(), ", "), 72),
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				body, err := alertSchema.parse(args)
				if err != nil {
					return err
				}
				var s adminapi.AlertSettings
				return send(ctx, r, "PUT", "/api/v1/alerts/settings", body, &s, func() error {
					fmt.Fprintln(r.env.Stdout, "global alert settings changed until the daemon restarts:")
					return printAlertSettings(r, &s)
				})
			}
		},
	}
}

func printAlertSettings(r *runner, s *adminapi.AlertSettings) error {
	t := newTable(r.env.Stdout, "KEY", "VALUE")
	eachField(s, func(key string, v reflect.Value) { t.row(key, fmt.Sprint(v.Interface())) })
	return t.flush()
}
