package ctl

import (
	"context"
	"flag"
	"fmt"
	"reflect"
	"strings"
	"time"

	"medispatcher/engine/ops/adminapi"
)

func infoCommand() *command {
	return &command{
		name:    "info",
		summary: "version, uptime, servers and their health, configuration summary",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				return get(ctx, r, "/api/v1/info", nil, func(in *adminapi.Info) error {
					return printInfo(r, in)
				})
			}
		},
	}
}

func printInfo(r *runner, in *adminapi.Info) error {
	t := newTable(r.env.Stdout)
	t.row("version", fmt.Sprintf("%s (built %s, git %s)", in.Version, orDash(in.BuildTime), orDash(in.GitHash)))
	t.row("started", fmt.Sprintf("%s (up %s)", stamp(in.Started), seconds(in.UptimeS)))
	t.row("config", orDash(in.Config))
	t.row("main tube", in.MainTube)
	t.row("channel prefix", in.ChannelPrefix)
	t.row("subscriptions", fmt.Sprintf("%d from %s", in.Subscriptions, in.Source))
	if in.Paused != "" {
		t.row("MAIN TUBE PAUSED", in.Paused)
	}
	redis := "not connected"
	if in.Redis.Connected {
		redis = "connected"
	}
	t.row("redis", in.Redis.Addr+" "+redis)
	t.row("log dir", orDash(in.LogDir))
	t.row("reception env", orDash(in.ReceptionEnv))
	t.row("bench mode", yesNo(in.RunAtBench))
	e := in.Endpoints
	t.row("endpoints", fmt.Sprintf("admin %s, statistics %s, metrics %s, debug %s",
		orDash(e.Admin), orDash(e.Statistics), orDash(e.Metrics), orDash(e.Debug)))
	for _, s := range in.Servers {
		health := "healthy"
		if !s.Healthy {
			health = "UNHEALTHY"
		}
		t.row("beanstalkd", s.Addr+" "+health)
	}
	return t.flush()
}

func statusCommand() *command {
	return &command{
		name:    "status",
		summary: "totals, main backlog, one row per subscription (rate, 1 min pushes and failures, backlog)",
		help: `RATE/S is the push rate over the last 10 s; PUSH_1M, FAIL_1M and FAIL% cover
the last minute; DIRECT% is the share of the subscription's copies since it
started that went straight from the main tube to a push worker (cut-through;
"-" before any copy), the others went through its channel tube; READY,
DELAYED, RESERVED are the channel tube's backlog and R_READY, R_DELAYED the
retry tube's, as last sampled.`,
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				return get(ctx, r, "/api/v1/overview", nil, func(o *adminapi.Overview) error {
					return printStatus(r, o)
				})
			}
		},
	}
}

// directShare is s's DIRECT%: "-" before its first copy.
func directShare(s adminapi.SubOverview) string {
	if s.Direct+s.Spilled == 0 {
		return "-"
	}
	return percent(s.DirectShare)
}

// statusAlerts is how many recent alerts status shows.
const statusAlerts = 5

func printStatus(r *runner, o *adminapi.Overview) error {
	w := r.env.Stdout
	fmt.Fprintf(w, "medispatcher %s, up %s, cut-through %s\n", o.Version, seconds(o.UptimeS), onOff(o.CutThrough))
	if o.Paused != "" {
		fmt.Fprintf(w, "MAIN TUBE PAUSED: %s\n", o.Paused)
	}
	tot := o.Totals
	fmt.Fprintf(w, "totals: pushes %d, successes %d, failures %d, retries %d, given up %d, redistributed %d, decode errors %d\n",
		tot.Pushes, tot.Successes, tot.Failures, tot.Retries, tot.GivenUp, tot.Redistributed, tot.DecodeErrors)
	sampled := "not sampled yet"
	if o.BacklogSampledMS > 0 {
		age := time.Duration(o.NowMS-o.BacklogSampledMS) * time.Millisecond
		sampled = "sampled " + age.Round(time.Second).String() + " ago"
	}
	m := o.Main
	fmt.Fprintf(w, "main tube: ready %d, delayed %d, reserved %d, buried %d (%s)\n\n", m.Ready, m.Delayed, m.Reserved, m.Buried, sampled)
	if len(o.Subscriptions) == 0 {
		fmt.Fprintln(w, "(no subscriptions)")
	} else {
		t := newTable(w, "ID", "TOPIC", "CONC", "RATE/S", "PUSH_1M", "FAIL_1M", "FAIL%", "DIRECT%", "READY", "DELAYED", "RESERVED", "R_READY", "R_DELAYED")
		for _, s := range o.Subscriptions {
			t.row(itoa(s.ID), s.Topic, fmt.Sprintf("%d/%d", s.Concurrency, s.RetryConcurrency), num(s.Rate10s),
				itoa(s.Pushes1m), itoa(s.Failures1m), percent(s.FailureRatio1m), directShare(s),
				itoa(s.Ready), itoa(s.Delayed), itoa(s.Reserved), itoa(s.RetryReady), itoa(s.RetryDelayed))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(o.Alerts) > 0 {
		fmt.Fprintf(w, "\nrecent alerts (medictl alerts lists more):\n")
		return printAlerts(r, o.Alerts[:min(statusAlerts, len(o.Alerts))])
	}
	return nil
}

func defaultsCommand() *command {
	return &command{
		name:    "defaults",
		summary: "what a subscription gets for a parameter it leaves 0, and the bounds",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				return get(ctx, r, "/api/v1/defaults", nil, func(d *adminapi.Defaults) error {
					t := newTable(r.env.Stdout, "KEY", "VALUE")
					eachField(d, func(key string, v reflect.Value) { t.row(key, fmt.Sprint(v.Interface())) })
					return t.flush()
				})
			}
		},
	}
}

// eachField calls fn with the json key and value of each field of the
// struct *p, in declaration order (embedded structs inlined, pointers
// followed).
func eachField(p any, fn func(key string, v reflect.Value)) {
	v := reflect.ValueOf(p)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			eachField(fv.Interface(), fn)
			continue
		}
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		fn(name, fv)
	}
}

func printAlerts(r *runner, alerts []adminapi.Alert) error {
	t := newTable(r.env.Stdout, "TIME", "KIND", "SUB", "TOPIC", "SUBJECT", "DELIVERED", "FAILED", "NOTE")
	for _, a := range alerts {
		sub := "-"
		if a.SubID != 0 {
			sub = itoa(a.SubID)
		}
		t.row(stamp(a.Time), a.Kind, sub, orDash(a.Topic), a.Subject,
			orDash(strings.Join(a.Delivered, ",")), orDash(strings.Join(a.Failed, ",")), orDash(a.Note))
	}
	return t.flush()
}
