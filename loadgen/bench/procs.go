package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"medispatcher/internal/mariadb"
	"medispatcher/internal/probe"
)

// Proc is a child process the orchestrator started: beanstalkd,
// redis-server, mariadbd or the daemon. It dies with the orchestrator (Pdeathsig).
type Proc struct {
	Name   string
	Addr   string // the address it serves (servers), "" for the daemon
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

func startProc(name, logPath string, argv ...string) (*Proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, exited: make(chan struct{}), log: lf}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// StartServer starts beanstalkd, redis-server or mariadbd (its files in
// dir, its system tables installed there: see mariadb.Install) on a free
// loopback port, with the flags extra added, and waits until it answers.
func StartServer(kind, dir string, extra ...string) (*Proc, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := probe.FreePort()
		if err != nil {
			return nil, err
		}
		ps := strconv.Itoa(port)
		var argv []string
		switch kind {
		case "beanstalkd":
			argv = []string{"beanstalkd", "-l", "127.0.0.1", "-p", ps, "-z", strconv.Itoa(1 << 20)}
		case "redis-server":
			argv = []string{"redis-server", "--bind", "127.0.0.1", "--port", ps, "--save", "", "--appendonly", "no",
				"--dir", dir, "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}
		case mariadb.Server:
			argv = append([]string{mariadb.Program(mariadb.Server)}, mariadb.Args(dir, ps)...)
		default:
			return nil, fmt.Errorf("unknown server %q", kind)
		}
		argv = append(argv, extra...)
		p, err := startProc(kind, filepath.Join(dir, kind+"-"+ps+".log"), argv...)
		if err != nil {
			return nil, err
		}
		p.Addr = "127.0.0.1:" + ps
		if lastErr = p.waitAnswer(kind); lastErr == nil {
			return p, nil
		}
		p.Stop()
	}
	return nil, fmt.Errorf("start %s: %w", kind, lastErr)
}

func (p *Proc) waitAnswer(kind string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := probe.Ping(probe.Kind(kind), p.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited at start (see %s)", kind, p.log.Name())
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond) // no readiness signal but the port
	}
}

// Exited is closed when the process ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Stop sends SIGTERM, then SIGKILL after 10 s, and waits.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	_ = p.log.Close()
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// clkTck is USER_HZ, 100 on every Linux this runs on.
const clkTck = 100

// CPUSeconds is the process's user + system CPU time so far.
func (p *Proc) CPUSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("cpu of %s: %w", p.Name, err)
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("cpu: bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("cpu: short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clkTck, nil
}

// PeakRSSMB is the process's peak resident set (VmHWM) in MiB.
func (p *Proc) PeakRSSMB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("rss of %s: %w", p.Name, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, nil
		}
	}
	return 0, errors.New("rss: no VmHWM")
}
