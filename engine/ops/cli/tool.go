package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"medispatcher/internal/config"
)

// Tool is an operator tool's command line: cmd/NAME/main.go declares one
// and hands its Run to Main.
type Tool struct {
	Name  string // the program's name, which starts its messages
	Usage string // printed above the flag list by -h
	// Flags defines the tool's own flags on fs (-f and -v are there
	// already) and returns the body that runs once they are parsed.
	Flags func(fs *flag.FlagSet) Body
}

// Body is a tool's work once its command line is parsed: it returns the
// exit code.
type Body func(ctx context.Context, e *Env) int

// Env is one run of a tool: its parsed command line and its output.
type Env struct {
	Stdout, Stderr io.Writer
	flags          *Flags
}

// Run parses args and runs the tool's body; -h, -v and a bad command line
// end the run before it.
func (t *Tool) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := NewFlags(t.Name, t.Usage, stderr)
	body := t.Flags(f.FlagSet)
	if code, done := f.Parse(args, stdout); done {
		return code
	}
	return body(ctx, &Env{Stdout: stdout, Stderr: stderr, flags: f})
}

// Args are the positional arguments.
func (e *Env) Args() []string { return e.flags.Args() }

// UsageError prints the usage, for a command line the flags accept but the
// tool cannot use, and returns ExitUsage.
func (e *Env) UsageError() int {
	e.flags.Usage()
	return ExitUsage
}

// Config loads the -f configuration. A failure is printed and code is
// ExitConfig.
func (e *Env) Config() (cfg *config.Config, code int) {
	cfg, err := e.flags.Load(e.Stderr)
	if err != nil {
		return nil, ExitConfig
	}
	return cfg, ExitOK
}

// Failf prints "NAME: message" on stderr and returns code.
func (e *Env) Failf(code int, format string, args ...any) int {
	fmt.Fprintf(e.Stderr, "%s: %s\n", e.flags.name, fmt.Sprintf(format, args...))
	return code
}
