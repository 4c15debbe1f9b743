// Package testsrv starts real, private beanstalkd, redis-server and MariaDB
// processes for tests: each on a free loopback port, stopped when the test
// ends.
//
// It never mocks a server and never touches one it did not start. When a
// binary is missing, tests fail under CI=true and are skipped elsewhere with
// a message saying how to install it (scripts/deps.sh).
package testsrv

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"medispatcher/internal/probe"
)

// Kind names a server program.
type Kind = probe.Kind

// The servers testsrv can run.
const (
	Beanstalkd = probe.Beanstalkd
	Redis      = probe.Redis
	MariaDB    = probe.MariaDB
)

// startTimeout bounds how long a server may take to answer after start.
const startTimeout = 10 * time.Second

// Server is one running server process on 127.0.0.1.
type Server struct {
	Kind Kind
	Port int
	// Addr is "127.0.0.1:<port>".
	Addr string
	// Dir is the server's private directory: the beanstalkd binlog when
	// started WithBinlog, redis' working directory.
	Dir string

	binlog     bool
	maxJobSize int
	tls        *TLSFiles
	tlsc       *tls.Config // the readiness ping's, when tls is set
	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{}
}

// Option changes how a server starts.
type Option func(*Server)

// WithBinlog starts beanstalkd with a binlog (-b) in the server's directory,
// so jobs survive a kill and restart.
func WithBinlog() Option { return func(s *Server) { s.binlog = true } }

// WithMaxJobSize starts beanstalkd with -z n (default 1 MiB).
func WithMaxJobSize(n int) Option { return func(s *Server) { s.maxJobSize = n } }

// WithTLS starts redis-server with TLS only (no plain port) on its port,
// with f's server certificate, asking clients for a certificate f's CA
// signed (tls-auth-clients yes).
func WithTLS(f *TLSFiles) Option { return func(s *Server) { s.tls = f } }

// StartBeanstalkd starts a beanstalkd on a free loopback port; it is killed
// when tb's test ends.
func StartBeanstalkd(tb testing.TB, opts ...Option) *Server {
	return start(tb, Beanstalkd, opts)
}

// StartRedis starts a redis-server (no persistence) on a free loopback port;
// it is killed when tb's test ends.
func StartRedis(tb testing.TB, opts ...Option) *Server {
	return start(tb, Redis, opts)
}

func start(tb testing.TB, kind Kind, opts []Option) *Server {
	tb.Helper()
	RequireBinary(tb, kind)
	s := &Server{Kind: kind, Dir: tb.TempDir()}
	for _, o := range opts {
		o(s)
	}
	if s.tls != nil {
		if kind != Redis {
			tb.Fatalf("testsrv: WithTLS is for %s only", Redis)
		}
		s.tlsc = s.tls.ClientConfig(tb)
	}
	var err error
	// A free port can be taken by someone else between our probe and the
	// server's bind; try a few ports before giving up.
	for attempt := 0; attempt < 5; attempt++ {
		s.Port, err = FreePort()
		if err != nil {
			break
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		if err = s.launch(); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("testsrv: start %s: %v", kind, err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// RequireBinary skips tb's test when the program of kind is not installed,
// or fails it under CI=true, saying how to install it.
func RequireBinary(tb testing.TB, kind Kind) {
	tb.Helper()
	if _, err := exec.LookPath(program(kind)); err != nil {
		msg := fmt.Sprintf("testsrv: %s not found (%v); run scripts/deps.sh or `make deps`", kind, err)
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
}

// FreePort returns a free loopback port, for tests that start a server of
// their own (see probe.FreePort).
func FreePort() (int, error) { return probe.FreePort() }

func (s *Server) args() []string {
	port := strconv.Itoa(s.Port)
	switch s.Kind {
	case Beanstalkd:
		z := 1 << 20
		if s.maxJobSize > 0 {
			z = s.maxJobSize
		}
		a := []string{"-l", "127.0.0.1", "-p", port, "-z", strconv.Itoa(z)}
		if s.binlog {
			a = append(a, "-b", s.Dir)
		}
		return a
	case MariaDB:
		return mariadbArgs(s.Dir, port)
	default:
		a := []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
			"--dir", s.Dir, "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}
		if s.tls != nil {
			a[3] = "0"
			a = append(a, "--tls-port", port, "--tls-cert-file", s.tls.ServerCert, "--tls-key-file", s.tls.ServerKey,
				"--tls-ca-cert-file", s.tls.CA, "--tls-auth-clients", "yes")
		}
		return a
	}
}

// launch starts the process and waits until it answers a command.
func (s *Server) launch() error {
	if s.Kind == MariaDB {
		if err := installMariaDB(s.Dir); err != nil {
			return err
		}
	}
	cmd := exec.Command(program(s.Kind), s.args()...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", s.Kind, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(startTimeout)
	for {
		err := s.ping()
		if err == nil {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start: %s", s.Kind, strings.TrimSpace(stderr.String()+s.errorLog()))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s did not answer on %s within %v: %w", s.Kind, s.Addr, startTimeout, err)
		}
		// No readiness signal exists for a freshly exec'd server but its port.
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// ping sends one harmless command and checks the answer.
func (s *Server) ping() error { return probe.PingTLS(s.Kind, s.Addr, s.tlsc) }

// Kill stops the server with SIGKILL and waits until it is gone. Jobs not in
// a binlog are lost, as in a crash.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Stop stops the server with SIGTERM (SIGKILL after 5 s). Safe to call twice.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Pause freezes the process (SIGSTOP): it keeps its port open and accepts
// connections but answers nothing, like a hung server. Resume undoes it.
func (s *Server) Pause() { s.sendOnly(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.sendOnly(syscall.SIGCONT) }

// Drain puts beanstalkd into draining mode (SIGUSR1): every put is refused
// with DRAINING from then on, while reserve, delete and release still work.
func (s *Server) Drain() { s.sendOnly(syscall.SIGUSR1) }

func (s *Server) sendOnly(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused server must be able to exit
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart starts the server again on the same port (and binlog directory)
// after Kill or Stop.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.launch(); err == nil {
			return
		}
		// The old socket may linger a moment after a kill.
		if !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "in use") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("testsrv: restart %s on %s: %v", s.Kind, s.Addr, err)
}

// Running reports whether the process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// CPUTime returns the user+system CPU time the server process has used
// (Linux /proc), for benchmarks that report the server's share.
func (s *Server) CPUTime() (time.Duration, error) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("testsrv: server not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields of the whole line, in clock ticks (100/s).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("testsrv: short /proc stat %q", b)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("testsrv: parse /proc stat %q", b)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}
