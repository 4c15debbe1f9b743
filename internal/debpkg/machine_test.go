package debpkg

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireRoot skips a test that installs packages when it does not run as
// root, and fails it instead under CI, which must run it.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("installing the package needs root, and CI must run this test")
		}
		t.Skip("installing the package needs root (CI runs it as root)")
	}
	for _, tool := range []string{"dpkg", "dpkg-query", "systemd-analyze", "useradd", "userdel", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s missing (make deps installs what this test needs): %v", tool, err)
		}
	}
}

// machine is what the test may change, as it was before.
type machine struct {
	user, group, confDir, logDir bool
}

// snapshotMachine records the machine's state; a medispatcher package
// already installed is never touched.
func snapshotMachine(t *testing.T) machine {
	t.Helper()
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", Name).Output(); err == nil && len(out) > 0 {
		msg := "a " + Name + " package is on this machine (" + string(out) + "); the test would replace it"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	_, uerr := user.Lookup(Name)
	_, gerr := user.LookupGroup(Name)
	return machine{user: uerr == nil, group: gerr == nil, confDir: exists(ConfDir), logDir: exists(LogDir)}
}

// restore purges the package and removes what the test created.
func (m machine) restore(t *testing.T) {
	if out, err := exec.Command("dpkg", "--purge", Name).CombinedOutput(); err != nil {
		t.Errorf("cleanup: dpkg --purge: %v\n%s", err, out)
	}
	if !m.user {
		if _, err := user.Lookup(Name); err == nil {
			runCleanup(t, "userdel", Name)
		}
	}
	if !m.group {
		if _, err := user.LookupGroup(Name); err == nil {
			runCleanup(t, "groupdel", Name)
		}
	}
	if !m.logDir {
		_ = os.RemoveAll(LogDir)
	}
	if !m.confDir {
		_ = os.RemoveAll(ConfDir)
	}
}

func runCleanup(t *testing.T, name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Errorf("cleanup: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// buildBinaries builds every command but the package builder, stamped
// with version as `make package` does, into a temporary directory, and
// the package builder (cmd/mkdeb) into another.
func buildBinaries(t *testing.T, version string) (bin, mkdeb string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	bin = t.TempDir()
	args := []string{"build", "-ldflags", "-X medispatcher/internal/buildinfo.Version=" + version, "-o", bin + "/"}
	for _, e := range entries {
		if e.IsDir() && e.Name() != "mkdeb" {
			args = append(args, "./cmd/"+e.Name())
		}
	}
	goBuild(t, args...)
	mkdeb = filepath.Join(t.TempDir(), "mkdeb")
	goBuild(t, "build", "-o", mkdeb, "./cmd/mkdeb")
	return bin, mkdeb
}

func goBuild(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// buildPackage runs mkdeb as `make package` does (out of this test's
// process: compressing under the race detector takes minutes) and returns
// the package's path.
func buildPackage(t *testing.T, mkdeb, bin, version string) string {
	t.Helper()
	out := mustRun(t, mkdeb, "-bin", bin, "-version", version, "-service", serviceDir, "-doc", docDir, "-o", t.TempDir())
	return strings.TrimSpace(out)
}

func binaryNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := binaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// mustRun runs a command (stdin empty, at most two minutes) and returns
// its output, failing t when it fails.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// edit replaces old by repl in the file at path, keeping its mode and
// owner (it is written in place).
func edit(t *testing.T, path, old, repl string) {
	t.Helper()
	text := readFile(t, path)
	if !strings.Contains(text, old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Replace(text, old, repl, 1)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// systemUser is the uid and gid of the service's user, which must be a
// system account (uid below 1000) without a login shell.
func systemUser(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(Name)
	if err != nil {
		t.Fatalf("user %s: %v", Name, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if uid == 0 || uid >= 1000 {
		t.Errorf("user %s has uid %d, want a system uid (1-999)", Name, uid)
	}
	if ent := mustRun(t, "getent", "passwd", Name); !strings.HasSuffix(strings.TrimSpace(ent), ":/usr/sbin/nologin") {
		t.Errorf("user %s: %s, want the nologin shell", Name, ent)
	}
	return uid, gid
}

func checkOwner(t *testing.T, path string, uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid || fi.Mode()&(os.ModeDir|os.ModePerm) != mode {
		t.Errorf("%s: %d:%d %v, want %d:%d %v", path, st.Uid, st.Gid, fi.Mode(), uid, gid, mode)
	}
}

// checkConfigReadable: the service's user can read both configuration
// files and the installed configuration passes --check.
func checkConfigReadable(t *testing.T) {
	t.Helper()
	u, err := user.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	asService := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)},
		}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := asService(BinDir+"/medispatcher", "--check", ConfigPath); err != nil || !strings.Contains(out, "config OK") {
		t.Errorf("medispatcher --check %s as %s: %v\n%s", ConfigPath, Name, err, out)
	}
	if out, err := asService("test", "-r", SubsPath); err != nil {
		t.Errorf("%s cannot read %s: %v %s", Name, SubsPath, err, out)
	}
}
