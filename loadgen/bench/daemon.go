package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"medispatcher/internal/probe"
)

// perDaemonKeys are the daemon configuration keys that must differ from
// one daemon of a fleet to the next: every address it listens on and
// every directory it writes to. The bench sets them; a scenario of more
// than one daemon may not.
var perDaemonKeys = []string{"LOG_DIR", "DropMessageLogDir", "ListenAddr", "DebugAddr", "StatisticApiAddr", "PrometheusApiAddr"}

// Daemon is one medispatcher process of an Env, with what is its own:
// its files and the loopback addresses it serves on. The first daemon's
// files keep the names a single daemon always had; daemon n > 1 adds -n.
type Daemon struct {
	Proc      *Proc
	N         int    // 1, 2, ...
	Config    string // its configuration file
	Log       string // its process log (stdout and stderr)
	LogDir    string // LOG_DIR: its DATA logs
	AdminAddr string // ListenAddr: admin API and status page
	DebugAddr string // pprof
	StatAddr  string // push statistics
	PromAddr  string // metrics
}

// newDaemon names daemon n's files in dir and picks its free ports.
func newDaemon(dir string, n int) (*Daemon, error) {
	d := &Daemon{N: n}
	d.Config = filepath.Join(dir, d.file("medispatcher", ".toml"))
	d.Log = filepath.Join(dir, d.file("medispatcher", ".log"))
	d.LogDir = filepath.Join(dir, d.file("logs", ""))
	for _, addr := range []*string{&d.AdminAddr, &d.DebugAddr, &d.StatAddr, &d.PromAddr} {
		port, err := probe.FreePort()
		if err != nil {
			return nil, err
		}
		*addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return d, nil
}

// file is the name of d's copy of base+ext: base-n+ext past the first.
func (d *Daemon) file(base, ext string) string {
	if d.N > 1 {
		base = fmt.Sprintf("%s-%d", base, d.N)
	}
	return base + ext
}

// name is d's process name in errors.
func (d *Daemon) name() string { return d.file("medispatcher", "") }

// daemonKeys is daemon d's configuration for e's servers: subscriptions
// from source (SourceRedis, SourceMySQL with e's [Database], or
// e.SubsFile), d's own addresses and DATA log directory, and the
// scenario's extra keys on top. Every daemon of e gets the same keys but
// those of perDaemonKeys.
func (e *Env) daemonKeys(d *Daemon, source string, extra map[string]any) map[string]any {
	src := "file:" + e.SubsFile
	if source == SourceRedis || source == SourceMySQL {
		src = source
	}
	keys := map[string]any{
		"QueueServerAddr":                 strings.Join(e.Servers(), ","),
		"NameOfMainQueue":                 e.MainTube,
		"PrefixOfChannelQueue":            "sub-queue/",
		"SubscriptionSource":              src,
		"LOG_DIR":                         d.LogDir,
		"EnableMsgSentLog":                false,
		"LogLevel":                        "warn",
		"ListenAddr":                      d.AdminAddr,
		"DebugAddr":                       d.DebugAddr,
		"StatisticApiAddr":                d.StatAddr,
		"PrometheusApiAddr":               d.PromAddr,
		"CoeOfIntervalForRetrySendingMsg": 1,
		"MaxRetryTimesOfSendingMessage":   10,
	}
	for k, v := range extra {
		keys[k] = v
	}
	if source == SourceMySQL {
		keys["Database"] = e.databaseTable(extra)
	}
	return keys
}

// writeDaemonConfig writes daemon d's configuration (daemonKeys, and e's
// Redis) to d.Config.
func (e *Env) writeDaemonConfig(d *Daemon, source string, extra map[string]any) error {
	var buf bytes.Buffer
	buf.WriteString("# written by loadgen bench for one scenario\n")
	if err := toml.NewEncoder(&buf).Encode(e.daemonKeys(d, source, extra)); err != nil {
		return fmt.Errorf("encode %s config: %w", d.name(), err)
	}
	fmt.Fprintf(&buf, "\n[Redis]\nAddr = %q\n", e.Redis.Addr)
	if err := os.WriteFile(d.Config, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s config: %w", d.name(), err)
	}
	return nil
}

// wait waits until d's pprof answers, and fails fast when d exits. A
// daemon whose pprof does not answer within 15 s is no failure: it still
// delivers, and the run's probe decides.
func (d *Daemon) wait(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := httpGet(ctx, "http://"+d.DebugAddr+"/debug/pprof/", io.Discard); err == nil {
			return nil
		}
		select {
		case <-d.Proc.Exited():
			return fmt.Errorf("daemon exited at start; see %s", d.Log)
		default:
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // no readiness signal but the port
	}
}

func httpGet(ctx context.Context, url string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// SaveURL writes the body of url to path.
func SaveURL(ctx context.Context, url, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := httpGet(ctx, url, f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
