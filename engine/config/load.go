package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Warning is a problem in a configuration file that does not stop the
// daemon: a key it does not know, or an old key it no longer uses.
type Warning struct {
	// Key is the dotted TOML key ("Database", "Redis.Foo").
	Key string
	// Msg is the full sentence for the operator.
	Msg string
}

func (w Warning) String() string { return w.Msg }

// unusedKeys are keys of the old daemon that this one accepts and ignores,
// with the reason shown to the operator. Sub-keys of a listed table are
// covered by its one warning.
var unusedKeys = []struct{ key, reason string }{
	{"DAEMON_USER", "run medispatcher as the intended user from the service manager, e.g. systemd User="},
	{"DAEMON_UID", "run medispatcher as the intended user from the service manager"},
	{"DAEMON_GID", "run medispatcher as the intended group from the service manager"},
	{"InstallDir", "the old daemon derived it at run time"},
	{"PidFile", "the service manager tracks the process"},
	{"DATA_DIR", "subscription parameters are no longer cached in local files"},
	{"QueueServerType", "beanstalkd is the only queue server"},
	{"ClientVer", "it had no effect"},
	{"Database", "failure records live in Redis now and subscriptions come from SubscriptionSource"},
	{"MedisPerMaxConsumerQueueNum", "fleet balancing through etcd is not implemented: every instance consumes every QueueServerAddr"},
	{"AlerterEmail.ProxyType", "the section name decides the kind of gateway"},
	{"AlerterSms.ProxyType", "the section name decides the kind of gateway"},
	{"AlarmPlatform.ProxyType", "the section name decides the kind of gateway"},
}

// Load reads the TOML file at path over Default(), validates the result and
// fills in the derived fields. Unknown keys and old keys that are no longer
// used come back as warnings; a file that cannot be read or parsed, or holds
// invalid values, is an error (all invalid values at once; errors.Is(err,
// ErrInvalid) tells them from I/O and syntax errors).
func Load(path string) (*Config, []Warning, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		// The PathError already names the file.
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	cfg := Default()
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return nil, nil, decodeError(abs, err)
	}
	cfg.Path = abs

	warns := keyWarnings(md)
	vwarns, errs := cfg.check()
	warns = append(warns, vwarns...)
	if len(errs) > 0 {
		return nil, warns, fmt.Errorf("invalid config %s:\n%w", abs, errors.Join(errs...))
	}
	return cfg, warns, nil
}

// decodeError names the file, line and column of a syntax error (with the
// offending line quoted), or the file and line of a value of the wrong type.
func decodeError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("parse config %s:%d:%d: %w\n%s",
			path, pe.Position.Line, pe.Position.Col, errors.New(pe.Message), excerpt(pe))
	}
	// Type mismatches ("toml: line 3 (last key "X"): incompatible types…")
	// carry their line in the message.
	return fmt.Errorf("parse config %s: %w", path, err)
}

// excerpt is the quoted context of ErrorWithPosition without its header
// line, which would repeat the message.
func excerpt(pe toml.ParseError) string {
	s := pe.ErrorWithPosition()
	if i := strings.Index(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	return strings.Trim(s, "\n")
}

// keyWarnings reports, in file order, every old key present that is not
// used and every key nothing decoded. One warning per key: the sub-keys of an
// unknown or unused table are not reported again.
func keyWarnings(md toml.MetaData) []Warning {
	reasons := make(map[string]string, len(unusedKeys))
	for _, u := range unusedKeys {
		reasons[u.key] = u.reason
	}
	// Undecoded also lists the sub-keys of tables decoded into `any`; the
	// covered check below drops those.
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	var warns []Warning
	reported := map[string]bool{}
	covered := func(k toml.Key) bool {
		for i := 1; i < len(k); i++ {
			if reported[k[:i].String()] {
				return true
			}
		}
		return false
	}
	// Keys lists a table before its sub-keys, so a parent is reported first.
	for _, k := range md.Keys() {
		name := k.String()
		if covered(k) {
			continue
		}
		if reason, ok := reasons[name]; ok {
			reported[name] = true
			warns = append(warns, Warning{Key: name,
				Msg: fmt.Sprintf("key %s is not used by medispatcher (%s)", name, reason)})
		} else if undecoded[name] {
			reported[name] = true
			warns = append(warns, Warning{Key: name, Msg: fmt.Sprintf("unknown key %s, ignored", name)})
		}
	}
	return warns
}
