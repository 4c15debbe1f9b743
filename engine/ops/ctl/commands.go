package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// action runs a command with its positional arguments, its flags parsed.
type action func(ctx context.Context, r *runner, args []string) error

// command is one medictl command.
type command struct {
	name    string // "sub set"
	args    string // positional arguments in the usage line
	summary string // one line in the command list
	help    string // what -h adds
	long    bool   // works through whole tubes: longer default timeout
	// setup defines the command's flags on fs and returns its action.
	setup func(fs *flag.FlagSet) action
}

// commands returns medictl's commands in the order help lists them.
func commands() []*command {
	return []*command{
		infoCommand(),
		statusCommand(),
		subsCommand(),
		subsExportCommand(),
		subGetCommand(),
		subSetCommand(),
		subCreateCommand(),
		subDeleteCommand(),
		defaultsCommand(),
		cleanCommand(),
		kickCommand(),
		failuresCommand(),
		resendCommand(),
		recoverCommand(),
		alertsCommand(),
		alertSettingsCommand(),
		alertSetCommand(),
		publishCommand(),
	}
}

func printCommandList(w io.Writer, cmds []*command) {
	t := newTable(w)
	for _, c := range cmds {
		t.row("  "+strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	_ = t.flush()
}

func printTopUsage(w io.Writer, cmds []*command, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: medictl [global flags] COMMAND [ARGS] [flags]

Operates a medispatcher daemon through its admin API.

Commands:
`)
	printCommandList(w, cmds)
	fmt.Fprint(w, `
The API's address is --addr, else ListenAddr of the -f config, else `+DefaultAddr+`.
The token is --token, else $`+TokenEnv+`, else AdminToken of the -f config
(prefer the variable: a flag shows in the process list).
An API served over TLS: an https:// --addr, verified against the system's
roots or --cacert FILE (-f with AdminTLSCertFile: https and that file).
Global flags go before or after the command; every command takes -h.

Exit codes: 0 done, 1 config error, 2 usage error, 3 something failed
(an API error is printed as "medictl: <code>: <message>").

Global flags:
`)
	printFlags(w, fs, func(name string) bool { return true })
}

func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: medictl %s [flags]\n\n%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	own := false
	fs.VisitAll(func(f *flag.Flag) { own = own || !globalNames[f.Name] })
	if own {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs, func(name string) bool { return !globalNames[name] })
	}
	fmt.Fprint(w, "\nGlobal flags:\n")
	printFlags(w, fs, func(name string) bool { return globalNames[name] })
	fmt.Fprint(w, "\nExit codes: 0 done, 1 config error, 2 usage error, 3 something failed.\n")
}

// printFlags prints the flags of fs that keep accepts, as
// flag.PrintDefaults does, with "--" for long names.
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		typ, usage := flag.UnquoteUsage(f)
		line := "  " + dash + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// call sends a request to the API and decodes a success into out.
func (r *runner) call(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, method, path, query, body, out)
}

// get is what every reading command does: one GET, then the API's JSON as
// it came (--json) or the human form of the answer.
func get[T any](ctx context.Context, r *runner, path string, query url.Values, human func(*T) error) error {
	var v T
	raw, err := r.call(ctx, "GET", path, query, nil, &v)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printRaw(raw)
	}
	return human(&v)
}

// send is what every changing command does: one request with body, then
// the API's JSON as it came (--json) or human's form of out, into which
// the answer was decoded.
func send(ctx context.Context, r *runner, method, path string, body, out any, human func() error) error {
	raw, err := r.call(ctx, method, path, nil, body, out)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printRaw(raw)
	}
	return human()
}

// printRaw prints the API's answer as it came (--json).
func (r *runner) printRaw(raw []byte) error {
	if _, err := r.env.Stdout.Write(raw); err != nil {
		return err
	}
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		_, err := io.WriteString(r.env.Stdout, "\n")
		return err
	}
	return nil
}

// noArgs refuses positional arguments.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	return nil
}

// subID reads the one positional argument, a subscription id.
func subID(args []string) (int64, error) {
	if len(args) == 0 {
		return 0, usageErrorf("give the subscription id")
	}
	if len(args) > 1 {
		return 0, usageErrorf("unexpected argument %q", args[1])
	}
	id, err := parseID(args[0])
	if err != nil {
		return 0, err
	}
	return id, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("subscription id %q: want a positive integer", s)
	}
	return id, nil
}

func subPath(id int64, rest ...string) string {
	return "/api/v1/subscriptions/" + strconv.FormatInt(id, 10) + strings.Join(append([]string{""}, rest...), "/")
}
