package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"medispatcher/internal/redact"
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
		return nil, nil, decodeError(abs, string(data), err)
	}
	cfg.Path = abs
	if md.IsDefined("Database") && !md.IsDefined("SubscriptionSource") {
		// A 2.x configuration: its subscriptions live in that database.
		cfg.SubscriptionSource = SubscriptionSourceMySQL
	}

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
// The value of a secret key (see redact.SecretKey) is never quoted: its
// lines show "(hidden)", and a message about it loses what it quotes of the
// value. URL userinfo is masked in every line shown.
func decodeError(path, src string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		lines := strings.Split(src, "\n")
		hidden := secretLines(lines)
		msg := pe.Message
		if ln := pe.Position.Line; ln >= 1 && ln <= len(lines) && hidden[ln-1] != "" || redact.SecretKey(pe.LastKey) {
			value := ""
			if ln >= 1 && ln <= len(lines) {
				value = lines[ln-1]
			}
			msg = hideQuoted(msg, value)
		}
		return fmt.Errorf("parse config %s:%d:%d: %w\n%s",
			path, pe.Position.Line, pe.Position.Col, errors.New(redact.URL(msg)), excerpt(lines, hidden, pe.Position))
	}
	// Type mismatches ("toml: line 3 (last key "X"): incompatible types…")
	// carry their line and the types in the message, never the value.
	return fmt.Errorf("parse config %s: %w", path, err)
}

// excerpt quotes the error's line and the two before it, as toml's
// ErrorWithPosition does, with secret values hidden, and a caret line
// under the error (one caret on a hidden line).
func excerpt(lines, hidden []string, pos toml.Position) string {
	if pos.Line < 1 || pos.Line > len(lines) {
		return ""
	}
	var b strings.Builder
	for n := max(pos.Line-2, 1); n <= pos.Line; n++ {
		l := lines[n-1]
		if hidden[n-1] != "" {
			l = hidden[n-1]
		}
		fmt.Fprintf(&b, "%7d | %s\n", n, redact.URL(strings.ReplaceAll(l, "\t", " ")))
	}
	n := max(pos.Len, 1)
	if hidden[pos.Line-1] != "" {
		n = 1 // the length of a secret is not shown either
	}
	fmt.Fprintf(&b, "%10s%s%s", "", strings.Repeat(" ", max(pos.Col-1, 0)), strings.Repeat("^", n))
	return b.String()
}

// secretKeyRE finds a key followed by '=' anywhere on a line: a bare key,
// a quoted one, or a key inside an inline table.
var secretKeyRE = regexp.MustCompile(`["']?([A-Za-z0-9_-]+)["']?[ \t]*=`)

// secretLines returns, per line of a TOML file, "" or the line as shown
// with the value of a secret key hidden: everything after the '=' of the
// first secret key on it becomes "(hidden)". The lines a multi-line string
// of a secret key continues on are hidden whole. It reads the text as
// written, so it works on a file that does not parse.
func secretLines(lines []string) []string {
	out := make([]string, len(lines))
	closing := "" // the delimiter ending a hidden multi-line string
	for i, l := range lines {
		if closing != "" {
			out[i] = "        (hidden)"
			if strings.Contains(l, closing) {
				closing = ""
			}
			continue
		}
		for _, m := range secretKeyRE.FindAllStringSubmatchIndex(l, -1) {
			if !redact.SecretKey(l[m[2]:m[3]]) {
				continue
			}
			out[i] = l[:m[1]] + " (hidden)"
			v := strings.TrimSpace(l[m[1]:])
			for _, d := range []string{`"""`, "'''"} {
				if strings.HasPrefix(v, d) && !strings.Contains(v[3:], d) {
					closing = d
				}
			}
			break
		}
	}
	return out
}

// hideQuoted removes from a parser message about a secret value what it
// may quote of it: every quoted part, and every word with a digit that
// occurs in line (errors about numbers quote them bare).
func hideQuoted(msg, line string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\'' || c == '"' {
			if j := strings.IndexByte(msg[i+1:], c); j >= 0 {
				b.WriteString("(hidden)")
				i += j + 1
				continue
			}
		}
		b.WriteByte(c)
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		if strings.ContainsAny(w, "0123456789") && strings.Contains(line, strings.TrimRight(w, ".,;:")) {
			words[i] = "(hidden)"
		}
	}
	return strings.Join(words, " ")
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
