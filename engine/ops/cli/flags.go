package cli

import (
	"flag"
	"fmt"
	"io"

	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
)

// Flags is a tool's flag set with the flags every tool has.
type Flags struct {
	*flag.FlagSet
	name    string
	Config  *string // -f CONFIG
	version *bool
}

// NewFlags returns the flag set of tool name; usage is printed above the
// flag list by -h.
func NewFlags(name, usage string, stderr io.Writer) *Flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &Flags{FlagSet: fs, name: name}
	f.Config = fs.String("f", "/etc/medispatcher.toml", "medispatcher config file")
	f.version = fs.Bool("v", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nExit codes: 0 done, 1 config error, 2 usage error, 3 something failed.\n\n")
		fs.PrintDefaults()
	}
	return f
}

// Parse parses args. done reports that the tool must return code now
// (help shown, usage error, version printed).
func (f *Flags) Parse(args []string, stdout io.Writer) (code int, done bool) {
	if err := f.FlagSet.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return ExitOK, true
		}
		return ExitUsage, true
	}
	if *f.version {
		fmt.Fprintln(stdout, buildinfo.String(f.name))
		return ExitOK, true
	}
	return ExitOK, false
}

// Load loads the configuration; a failure is printed.
func (f *Flags) Load(stderr io.Writer) (*config.Config, error) {
	cfg, _, err := config.Load(*f.Config)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
	}
	return cfg, err
}
