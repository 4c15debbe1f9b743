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

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/probe"
)

// Env is one scenario's servers and daemon.
type Env struct {
	Dir        string
	Beanstalkd []*Proc
	Redis      *Proc
	Daemon     *Proc
	SubsFile   string
	DebugAddr  string
	PromAddr   string
	StatAddr   string
	AdminAddr  string // ListenAddr: admin API and status page
	MainTube   string
}

// StartEnv starts n beanstalkd (with binlog: off, on or fsync), one
// redis-server and the daemon (binary daemonBin) configured for them;
// extra holds the scenario's daemon keys.
func StartEnv(ctx context.Context, dir, daemonBin string, n int, binlog, source string, extra map[string]any) (*Env, error) {
	// The daemon resolves relative paths against its config's directory.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("scenario dir: %w", err)
	}
	e := &Env{Dir: dir, MainTube: "event_center_messages", SubsFile: filepath.Join(dir, "subscriptions.toml")}
	ok := false
	defer func() {
		if !ok {
			e.Stop()
		}
	}()
	if err := e.startServers(n, binlog); err != nil {
		return nil, err
	}
	// The daemon starts with no subscriptions; each run writes its own.
	if err := subs.WriteFile(e.SubsFile, nil); err != nil {
		return nil, err
	}
	if err := e.takePorts(); err != nil {
		return nil, err
	}
	cfgPath, err := e.writeDaemonConfig(source, extra)
	if err != nil {
		return nil, err
	}
	if e.Daemon, err = startProc("medispatcher", filepath.Join(dir, "medispatcher.log"), daemonBin, "-c", cfgPath); err != nil {
		return nil, err
	}
	if err := e.waitDaemon(ctx); err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// startServers starts n beanstalkd, each with binlog (off, on, fsync) in
// a directory of its own, and one redis-server in e.Dir.
func (e *Env) startServers(n int, binlog string) error {
	for range n {
		args, err := binlogArgs(binlog, e.Dir)
		if err != nil {
			return err
		}
		p, err := StartServer("beanstalkd", e.Dir, args...)
		if err != nil {
			return err
		}
		e.Beanstalkd = append(e.Beanstalkd, p)
	}
	var err error
	e.Redis, err = StartServer("redis-server", e.Dir)
	return err
}

// takePorts picks the loopback addresses the daemon serves on: its admin
// API and status page, pprof, the push statistics and the metrics.
func (e *Env) takePorts() error {
	ports := make([]int, 4)
	for i := range ports {
		var err error
		if ports[i], err = probe.FreePort(); err != nil {
			return err
		}
	}
	e.AdminAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	e.DebugAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	e.StatAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	e.PromAddr = fmt.Sprintf("127.0.0.1:%d", ports[3])
	return nil
}

// writeDaemonConfig writes the daemon's configuration for e's servers and
// addresses, subscriptions from source ("redis", or e.SubsFile), with the
// scenario's extra keys on top; it returns the file's path.
func (e *Env) writeDaemonConfig(source string, extra map[string]any) (string, error) {
	src := "file:" + e.SubsFile
	if source == "redis" {
		src = "redis"
	}
	keys := map[string]any{
		"QueueServerAddr":                 strings.Join(e.Servers(), ","),
		"NameOfMainQueue":                 e.MainTube,
		"PrefixOfChannelQueue":            "sub-queue/",
		"SubscriptionSource":              src,
		"LOG_DIR":                         filepath.Join(e.Dir, "logs"),
		"EnableMsgSentLog":                false,
		"LogLevel":                        "warn",
		"ListenAddr":                      e.AdminAddr,
		"DebugAddr":                       e.DebugAddr,
		"StatisticApiAddr":                e.StatAddr,
		"PrometheusApiAddr":               e.PromAddr,
		"CoeOfIntervalForRetrySendingMsg": 1,
		"MaxRetryTimesOfSendingMessage":   10,
	}
	for k, v := range extra {
		keys[k] = v
	}
	var buf bytes.Buffer
	buf.WriteString("# written by loadgen bench for one scenario\n")
	if err := toml.NewEncoder(&buf).Encode(keys); err != nil {
		return "", fmt.Errorf("encode daemon config: %w", err)
	}
	fmt.Fprintf(&buf, "\n[Redis]\nAddr = %q\n", e.Redis.Addr)
	cfgPath := filepath.Join(e.Dir, "medispatcher.toml")
	if err := os.WriteFile(cfgPath, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write daemon config: %w", err)
	}
	return cfgPath, nil
}

// waitDaemon waits until the daemon's pprof answers, and fails fast when
// the daemon exits. A daemon whose pprof does not answer within 15 s is
// no failure: it still delivers, and the run's probe decides.
func (e *Env) waitDaemon(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := httpGet(ctx, "http://"+e.DebugAddr+"/debug/pprof/", io.Discard); err == nil {
			return nil
		}
		select {
		case <-e.Daemon.Exited():
			return fmt.Errorf("daemon exited at start; see %s", filepath.Join(e.Dir, "medispatcher.log"))
		default:
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // no readiness signal but the port
	}
}

// Servers are the beanstalkd addresses.
func (e *Env) Servers() []string {
	var s []string
	for _, p := range e.Beanstalkd {
		s = append(s, p.Addr)
	}
	return s
}

// BeanstalkdCPU is the CPU seconds of e's beanstalkd servers so far (a
// server whose time cannot be read counts nothing).
func (e *Env) BeanstalkdCPU() float64 {
	sum := 0.0
	for _, p := range e.Beanstalkd {
		if s, err := p.CPUSeconds(); err == nil {
			sum += s
		}
	}
	return sum
}

// Stop stops the daemon first (so it releases its jobs), then the servers.
func (e *Env) Stop() {
	if e.Daemon != nil {
		e.Daemon.Stop()
	}
	for _, p := range e.Beanstalkd {
		p.Stop()
	}
	if e.Redis != nil {
		e.Redis.Stop()
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
