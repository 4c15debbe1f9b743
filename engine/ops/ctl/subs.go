package ctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/redact"
)

func subsCommand() *command {
	return &command{
		name:    "subs",
		summary: "the live subscriptions with effective settings and backlog",
		help: `CONC and TIMEOUT are effective values (the subscription's own, or the
daemon's default where it leaves 0); READY and R_READY are the channel and
retry tubes' ready jobs as last sampled ("-" before the first sample).`,
		setup: func(fs *flag.FlagSet) action {
			topic := fs.String("topic", "", "only subscriptions of this topic")
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				q := url.Values{}
				if *topic != "" {
					q.Set("topic", *topic)
				}
				return get(ctx, r, "/api/v1/subscriptions", q, func(l *adminapi.SubList) error {
					return printSubList(r.env.Stdout, l)
				})
			}
		},
	}
}

func printSubList(w io.Writer, l *adminapi.SubList) error {
	mode := "read-only: edit the file"
	if l.Writable {
		mode = "writable"
	}
	fmt.Fprintf(w, "source: %s (%s)\n", l.Source, mode)
	if len(l.Subscriptions) == 0 {
		fmt.Fprintln(w, "(no subscriptions)")
		return nil
	}
	t := newTable(w, "ID", "TOPIC", "SUBSCRIBER", "CONC", "TIMEOUT", "RATE", "ALERT", "READY", "R_READY", "WINDOW", "BREAKER", "URL")
	for _, v := range l.Subscriptions {
		if v.Subscription == nil {
			continue
		}
		e := v.Effective
		rate := "-"
		if e.Rate > 0 {
			rate = num(e.Rate) + "/s"
		}
		t.row(itoa(v.ID), v.Topic, itoa(v.SubscriberID), fmt.Sprintf("%d/%d", e.Concurrency, e.RetryConcurrency),
			itoa(int64(e.TimeoutMS))+"ms", rate, yesNo(v.AlertEnabled), ready(v.Channel), ready(v.Retry), pushWindow(v), breakerState(v), firstLine(redact.URL(v.URL)))
	}
	return t.flush()
}

// breakerState is the subscription's circuit breaker as the list shows
// it: its state on the daemon, "off" when it counts nothing there, "-"
// from a daemon that does not tell.
func breakerState(v *adminapi.SubView) string {
	switch {
	case v.Breaker == "":
		return "-"
	case v.Breaker == "closed" && v.Effective.CircuitBreaker == "off":
		return "off"
	}
	return v.Breaker
}

// pushWindow is the subscription's push window as the list shows it: its
// channel and retry lanes' windows on the daemon, "off" when they are its
// fixed concurrency, "-" from a daemon that does not tell.
func pushWindow(v *adminapi.SubView) string {
	switch {
	case v.Window == nil:
		return "-"
	case v.Effective.AdaptiveWindow == "off":
		return "off"
	}
	return fmt.Sprintf("%d/%d", v.Window.Channel, v.Window.Retry)
}

func ready(c *adminapi.Counts) string {
	if c == nil {
		return "-"
	}
	return itoa(c.Ready)
}

func subGetCommand() *command {
	return &command{
		name:    "sub get",
		args:    "ID",
		summary: "one subscription: settings, what they resolve to, tubes and backlog",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				id, err := subID(args)
				if err != nil {
					return err
				}
				return get(ctx, r, subPath(id), nil, func(v *adminapi.SubView) error {
					return printSubView(r.env.Stdout, v)
				})
			}
		},
	}
}

// printSubView prints every setting with its effective value where the
// daemon's default applies, then the tubes and their backlog, the push
// window, the circuit breaker's state and the content filter's counts.
func printSubView(w io.Writer, v *adminapi.SubView) error {
	if v.Subscription == nil {
		return fmt.Errorf("the answer holds no subscription")
	}
	eff := map[string]reflect.Value{}
	eachField(&v.Effective, func(key string, val reflect.Value) { eff[key] = val })
	t := newTable(w, "KEY", "VALUE", "EFFECTIVE")
	eachField(v.Subscription, func(key string, val reflect.Value) {
		e := ""
		if ev, ok := eff[key]; ok {
			e = fmt.Sprint(ev.Interface())
			delete(eff, key)
		}
		if key == "url" {
			for i, line := range strings.Split(strings.TrimSpace(val.String()), "\n") {
				if i > 0 {
					key = ""
				}
				t.row(key, redact.URL(strings.TrimSpace(line)), "")
			}
			return
		}
		t.row(key, shownValue(key, val), e)
	})
	// Effective values with no setting of their own (max_retries).
	eachField(&v.Effective, func(key string, val reflect.Value) {
		if _, ok := eff[key]; ok {
			t.row(key, "-", fmt.Sprint(val.Interface()))
		}
	})
	t.row("channel tube", v.Tubes.Channel, counts(v.Channel))
	t.row("retry tube", v.Tubes.Retry, counts(v.Retry))
	if v.Window != nil {
		t.row("push window", fmt.Sprintf("%d/%d", v.Window.Channel, v.Window.Retry), "channel/retry")
	}
	if v.Breaker != "" {
		t.row("breaker state", v.Breaker, "")
	}
	if v.Filter != "" || v.Filtered+v.FilterErrors > 0 {
		t.row("filtered", strconv.FormatUint(v.Filtered, 10), fmt.Sprintf("%d filter errors (delivered)", v.FilterErrors))
	}
	return t.flush()
}

// shownValue is a setting as medictl prints it: signing secrets masked
// even when a daemon (an older one) sends them unmasked.
func shownValue(key string, v reflect.Value) string {
	if list, ok := v.Interface().([]string); ok && key == "signing_secrets" {
		return strings.Join(redact.Secrets(list), " ")
	}
	return fmt.Sprint(v.Interface())
}

func counts(c *adminapi.Counts) string {
	if c == nil {
		return "not sampled yet"
	}
	return fmt.Sprintf("ready %d, delayed %d, reserved %d, buried %d", c.Ready, c.Delayed, c.Reserved, c.Buried)
}

func subSetCommand() *command {
	return &command{
		name:    "sub set",
		args:    "ID key=value ...",
		summary: "change parameters of a subscription live (the others keep their value)",
		help: `Values are typed by the subscription's schema: integers, numbers (rate),
true/false and text; 0 means the daemon's default. The daemon validates them
with its bounds (see medictl defaults). For example:
  medictl sub set 12 concurrency=8 rate=200 timeout_ms=3000
Keys: ` + wrap(strings.Join(subSchema.keys(), ", "), 72),
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				if len(args) == 0 {
					return usageErrorf("give the subscription id and key=value pairs")
				}
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				patch, err := subSchema.parse(args[1:])
				if err != nil {
					return err
				}
				var ch adminapi.Changed
				return send(ctx, r, "PATCH", subPath(id), patch, &ch, func() error {
					return printChanged(r.env.Stdout, "stored", &ch, subSchema.keysOf(patch))
				})
			}
		},
	}
}

// keysOf returns the keys of m in schema order (sorted).
func (s schema) keysOf(m map[string]any) []string {
	var out []string
	for _, k := range s.keys() {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// printChanged says what the daemon did with a change and shows the keys
// changed (every key when keys is nil).
func printChanged(w io.Writer, what string, ch *adminapi.Changed, keys []string) error {
	applied := "applied by this daemon"
	if !ch.Applied {
		applied = "NOT yet applied by this daemon (it follows Redis or polls the database; check medictl sub get)"
	}
	if ch.Subscription == nil || ch.Subscription.Subscription == nil {
		fmt.Fprintf(w, "subscription %d %s, %s\n", ch.Deleted, what, applied)
		return nil
	}
	fmt.Fprintf(w, "subscription %d %s, %s\n", ch.Subscription.ID, what, applied)
	if keys == nil {
		return printSubView(w, ch.Subscription)
	}
	eff := map[string]string{}
	eachField(&ch.Subscription.Effective, func(k string, v reflect.Value) { eff[k] = fmt.Sprint(v.Interface()) })
	t := newTable(w, "KEY", "VALUE", "EFFECTIVE")
	eachField(ch.Subscription.Subscription, func(k string, v reflect.Value) {
		if contains(keys, k) {
			t.row(k, shownValue(k, v), eff[k])
		}
	})
	return t.flush()
}

func subCreateCommand() *command {
	return &command{
		name:    "sub create",
		args:    "--file FILE|-",
		summary: "create a subscription from a JSON file (SubscriptionSource = \"redis\" or \"mysql\")",
		help: `The file holds one JSON object with the subscription's keys, e.g.
  {"id": 12, "topic": "orders", "url": "http://hooks.example/orders", "concurrency": 4}
Keys it leaves out are 0 (the daemon's default); alert_enabled is true
unless given. With SubscriptionSource = "mysql" the id may be left out (the
database numbers the row) and rate and burst must stay 0 (the 2.x tables
have no parameter for them). Keys: ` + wrap("id, "+strings.Join(subSchema.keys(), ", "), 72),
		setup: func(fs *flag.FlagSet) action {
			file := fs.String("file", "", "the subscription's JSON (- = standard input)")
			return func(ctx context.Context, r *runner, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *file == "" {
					return usageErrorf("give --file FILE (or --file - for standard input)")
				}
				body, err := readInput(r.env.Stdin, *file)
				if err != nil {
					return err
				}
				if !json.Valid(body) {
					return usageErrorf("%s: not valid JSON", *file)
				}
				var ch adminapi.Changed
				return send(ctx, r, "POST", "/api/v1/subscriptions", body, &ch, func() error {
					return printChanged(r.env.Stdout, "created", &ch, nil)
				})
			}
		},
	}
}

// maxInput bounds a file read for a request body: the API refuses more
// than adminapi.MaxBody anyway.
const maxInput = adminapi.MaxBody + 1

// readInput reads name, or stdin for "-", refusing more than the API takes.
func readInput(stdin io.Reader, name string) ([]byte, error) {
	var src io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read subscription: %w", err)
		}
		defer f.Close()
		src = f
	}
	b, err := io.ReadAll(io.LimitReader(src, maxInput))
	if err != nil {
		return nil, fmt.Errorf("read subscription %s: %w", name, err)
	}
	if len(b) >= maxInput {
		return nil, usageErrorf("%s: larger than the API accepts (%d bytes)", name, adminapi.MaxBody)
	}
	return b, nil
}

func subDeleteCommand() *command {
	return &command{
		name:    "sub delete",
		args:    "ID",
		summary: "cancel a subscription; its queued messages stay in its tubes",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, r *runner, args []string) error {
				id, err := subID(args)
				if err != nil {
					return err
				}
				var ch adminapi.Changed
				return send(ctx, r, "DELETE", subPath(id), nil, &ch, func() error {
					if ch.Deleted == 0 {
						ch.Deleted = id
					}
					ch.Subscription = nil
					return printChanged(r.env.Stdout, "cancelled", &ch, nil)
				})
			}
		},
	}
}
