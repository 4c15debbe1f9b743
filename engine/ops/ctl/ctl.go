// Package ctl is medictl, the operators' command line over a daemon's
// admin API (engine/process/admin): it shows the daemon's state, lists and changes
// subscriptions, cleans a subscription's queue, kicks buried jobs, lists
// and re-sends failure records, shows the recover lists and the alerts and
// changes the global alert settings.
//
// It only speaks HTTP to the API: it never touches beanstalkd, and Redis
// only to write the subscriptions "subs export --to redis" read from the
// API, so what it does is exactly what the API allows and validates.
// It reads the API's bodies as the types of package adminapi and links
// nothing of the engine.
// Each command prints a table for people or, with --json, the API's answer
// as it came, for scripts. Commands that delete jobs ask first.
package ctl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"medispatcher/engine/ops/cli"
	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
)

// Env is what medictl reads and writes besides the network.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Interactive is true when Stdin is a terminal: only then does a
	// destructive command ask for confirmation instead of refusing.
	Interactive bool
	// Getenv reads the environment (os.Getenv); nil reads nothing.
	Getenv func(string) string
}

// DefaultAddr is the admin API's address when neither --addr nor a config
// file gives one (the daemon's default ListenAddr).
const DefaultAddr = "127.0.0.1:5601"

// TokenEnv names the environment variable holding the admin token, as the
// daemon reads it.
const TokenEnv = "MEDISPATCHER_ADMIN_TOKEN"

// Default request timeouts: reads answer at once; clean, kick and resend
// work through whole tubes (the daemon bounds them at 10 minutes).
const (
	DefaultTimeout = 30 * time.Second
	LongTimeout    = 11 * time.Minute
)

// globals are the flags every command takes, before or after its name.
type globals struct {
	config  string
	addr    string
	token   string
	json    bool
	timeout time.Duration
	version bool
	cacert  string
}

// register defines the global flags on fs with their current values as
// defaults, so a flag given before the command name survives the
// command's own flag set.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.config, "f", g.config, "medispatcher config file: the default of --addr (ListenAddr) and --token (AdminToken)")
	fs.StringVar(&g.addr, "addr", g.addr, "admin API address host:port (default: ListenAddr of -f, else "+DefaultAddr+")")
	fs.StringVar(&g.token, "token", g.token, "admin token (default: $"+TokenEnv+", else AdminToken of -f)")
	fs.BoolVar(&g.json, "json", g.json, "print the API's JSON answer as is")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "request timeout (default 30s; 11m for clean, kick and resend)")
	fs.BoolVar(&g.version, "v", g.version, "print the version and exit")
	fs.StringVar(&g.cacert, "cacert", g.cacert, "PEM certificates to verify the admin API's TLS certificate with, instead of the system's; implies https (default: AdminTLSCertFile of -f, when -f gives the address)")
}

var globalNames = map[string]bool{"f": true, "addr": true, "token": true, "json": true, "timeout": true, "v": true, "cacert": true}

// runner is one invocation of medictl.
type runner struct {
	env Env
	g   globals
	cmd *command
}

// Run runs medictl with args (without the program name) and returns the
// exit code (cli.ExitOK, cli.ExitConfig, cli.ExitUsage, cli.ExitFailed).
// ctx ends a waiting request or prompt (SIGINT).
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	r := &runner{env: env}
	cmds := commands()

	top := flag.NewFlagSet("medictl", flag.ContinueOnError)
	top.SetOutput(env.Stderr)
	r.g.register(top)
	top.Usage = func() { printTopUsage(env.Stderr, cmds, top) }
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	if r.g.version {
		fmt.Fprintln(env.Stdout, buildinfo.String("medictl"))
		return cli.ExitOK
	}
	rest := top.Args()
	if len(rest) == 0 {
		top.Usage()
		return cli.ExitUsage
	}
	help := false
	if rest[0] == "help" {
		if len(rest) == 1 {
			printTopUsage(env.Stdout, cmds, top)
			return cli.ExitOK
		}
		help, rest = true, rest[1:]
	}
	c, rest := findCommand(cmds, rest)
	if c == nil {
		// "medictl sub" or "medictl sub frob": list the sub commands.
		var group []*command
		for _, c := range cmds {
			if strings.HasPrefix(c.name, rest[0]+" ") {
				group = append(group, c)
			}
		}
		if len(group) > 0 {
			fmt.Fprintf(env.Stderr, "medictl: %s needs one of:\n", rest[0])
			printCommandList(env.Stderr, group)
		} else {
			fmt.Fprintf(env.Stderr, "medictl: unknown command %q; commands:\n", rest[0])
			printCommandList(env.Stderr, cmds)
		}
		return cli.ExitUsage
	}
	if help {
		rest = []string{"-h"}
	}
	r.cmd = c
	return r.runCommand(ctx, rest)
}

// findCommand matches the longest command name at the start of args.
func findCommand(cmds []*command, args []string) (*command, []string) {
	if len(args) >= 2 {
		for _, c := range cmds {
			if c.name == args[0]+" "+args[1] {
				return c, args[2:]
			}
		}
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c, args[1:]
		}
	}
	return nil, args
}

func (r *runner) runCommand(ctx context.Context, args []string) int {
	c := r.cmd
	fs := flag.NewFlagSet("medictl "+c.name, flag.ContinueOnError)
	fs.SetOutput(r.env.Stderr)
	act := c.setup(fs)
	r.g.register(fs)
	fs.Usage = func() { printCommandUsage(r.env.Stderr, c, fs) }
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	if r.g.version {
		fmt.Fprintln(r.env.Stdout, buildinfo.String("medictl"))
		return cli.ExitOK
	}
	return r.report(act(ctx, r, pos))
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments ("sub get 5 --json"); everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// Errors a command returns, mapped to exit codes by report.
type (
	// usageError is a bad command line.
	usageError struct{ msg string }
	// configError is a config file that cannot be used.
	configError struct{ err error }
	// reportedError is a failure already printed in full.
	reportedError struct{ n int }
)

func (e *usageError) Error() string    { return e.msg }
func (e *configError) Error() string   { return e.err.Error() }
func (e *configError) Unwrap() error   { return e.err }
func (e *reportedError) Error() string { return fmt.Sprintf("%d problems reported", e.n) }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errAborted is an operator's "no" to a confirmation.
var errAborted = errors.New("aborted; nothing done")

// report prints err and returns the exit code.
func (r *runner) report(err error) int {
	if err == nil {
		return cli.ExitOK
	}
	w := r.env.Stderr
	var (
		ue  *usageError
		ce  *configError
		ae  *APIError
		rep *reportedError
	)
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(w, "medictl: %s\nrun 'medictl %s -h' for its usage\n", ue.msg, r.cmd.name)
		return cli.ExitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(w, "medictl: %v\n", ce.err)
		return cli.ExitConfig
	case errors.As(err, &ae):
		fmt.Fprintf(w, "medictl: %s: %s\n", ae.Code, ae.Message)
		for _, d := range ae.Details {
			fmt.Fprintf(w, "  %s = %s: %s\n", d.Field, formatValue(d.Value), d.Allowed)
		}
		return cli.ExitFailed
	case errors.As(err, &rep):
		return cli.ExitFailed
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(w, "medictl: interrupted")
		return cli.ExitFailed
	default:
		fmt.Fprintf(w, "medictl: %v\n", err)
		return cli.ExitFailed
	}
}

// client resolves the address and token and returns the API client.
func (r *runner) client() (*Client, error) {
	addr, token, cacert := r.g.addr, r.g.token, r.g.cacert
	if token == "" {
		token = r.env.Getenv(TokenEnv)
	}
	if r.g.config != "" && (addr == "" || token == "") {
		cfg, _, err := config.Load(r.g.config)
		if err != nil {
			return nil, &configError{err}
		}
		if addr == "" {
			if cfg.ListenAddr == "" {
				return nil, &configError{fmt.Errorf("%s: ListenAddr is empty, the admin API is off; give --addr", cfg.Path)}
			}
			addr = dialable(cfg.ListenAddr)
			if cfg.AdminTLSCertFile != "" {
				// The daemon's own certificate (self-signed, or its
				// chain) is what this host trusts it by.
				addr = "https://" + addr
				if cacert == "" {
					cacert = cfg.AdminTLSCertFile
				}
			}
		}
		if token == "" {
			token = cfg.AdminToken
		}
	}
	if addr == "" {
		addr = DefaultAddr
	}
	timeout := r.g.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
		if r.cmd.long {
			timeout = LongTimeout
		}
	}
	var tc *tls.Config
	if cacert != "" {
		switch {
		case strings.HasPrefix(addr, "http://"):
			return nil, usageErrorf("--cacert is for an https:// address, not %s", addr)
		case !strings.HasPrefix(addr, "https://"):
			addr = "https://" + addr
		}
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, &configError{fmt.Errorf("--cacert: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &configError{fmt.Errorf("--cacert %s holds no PEM certificate", cacert)}
		}
		tc = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c, err := NewClient(addr, token, timeout, tc)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return c, nil
}

// dialable turns a listen address into one to connect to: a daemon
// listening on every interface (":5601", "0.0.0.0:5601") is reached on
// loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return isTerminal(int(f.Fd())) }
