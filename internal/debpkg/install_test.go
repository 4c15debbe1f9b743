package debpkg

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// testStamp is the version the test's binaries are built with; it does not
// start with a digit, so the package version is the 0~git form.
const testStamp = "debpkg-test"

// TestInstallUpgradeRemovePurge installs the real package with dpkg and
// follows it through an upgrade, a removal and a purge. It changes the
// machine (a package, a system user, /etc/medispatcher, /var/log/medispatcher)
// and puts it back as it found it, failing or not.
func TestInstallUpgradeRemovePurge(t *testing.T) {
	requireRoot(t)
	before := snapshotMachine(t)
	t.Cleanup(func() { before.restore(t) })

	bin, mkdeb := buildBinaries(t, testStamp)
	first := buildPackage(t, mkdeb, bin, testStamp)
	second := buildPackage(t, mkdeb, bin, testStamp+"2")

	mustRun(t, "dpkg", "-i", first)
	checkInstalled(t, bin)
	checkUnit(t)

	// An operator's edit survives a reinstall and an upgrade.
	edit(t, ConfigPath, `LogLevel = "info"`, `LogLevel = "debug"`)
	for _, deb := range []string{first, second} {
		mustRun(t, "dpkg", "-i", deb)
		if !strings.Contains(readFile(t, ConfigPath), `LogLevel = "debug"`) {
			t.Fatalf("dpkg -i %s replaced the edited %s", filepath.Base(deb), ConfigPath)
		}
		checkConfigReadable(t)
	}
	if v := mustRun(t, "dpkg-query", "-W", "-f", "${Version}", Name); v != DebVersion(testStamp+"2") {
		t.Errorf("version after upgrade = %q", v)
	}

	logFile := filepath.Join(LogDir, "test-kept.log")
	if err := os.WriteFile(logFile, []byte("DATA\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "dpkg", "-r", Name)
	checkRemoved(t, bin, logFile)

	mustRun(t, "dpkg", "--purge", Name)
	for _, p := range []string{ConfigPath, SubsPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after purge: %v, want it gone", p, err)
		}
	}
	if _, err := os.Stat(logFile); err != nil {
		t.Errorf("purge removed the logs: %v", err)
	}
}

// checkInstalled checks every file the package put in place.
func checkInstalled(t *testing.T, bin string) {
	t.Helper()
	for _, name := range binaryNames(t, bin) {
		fi, err := os.Stat(filepath.Join(BinDir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s/%s: %v %v, want an executable file", BinDir, name, fi.Mode(), err)
		}
	}
	if v := mustRun(t, BinDir+"/medispatcher", "-v"); !strings.Contains(v, testStamp) {
		t.Errorf("medispatcher -v = %q, want the stamp %q", v, testStamp)
	}
	conf := mustRun(t, "dpkg-query", "--control-show", Name, "conffiles")
	for _, p := range []string{ConfigPath, SubsPath} {
		if !strings.Contains(conf, p+" ") && !strings.Contains(conf, p+"\n") {
			t.Errorf("%s is not a conffile:\n%s", p, conf)
		}
	}
	uid, gid := systemUser(t)
	checkOwner(t, LogDir, uid, gid, 0o750|os.ModeDir)
	checkOwner(t, ConfigPath, 0, gid, 0o640)
	checkOwner(t, SubsPath, 0, gid, 0o640)
	checkOwner(t, UnitPath, 0, 0, 0o644)
	checkConfigReadable(t)
}

// checkUnit runs systemd's offline checks on the installed unit: it must
// verify cleanly and its exposure score must be "OK" or better (below
// 5.0, where "MEDIUM" starts).
func checkUnit(t *testing.T) {
	t.Helper()
	if out := mustRun(t, "systemd-analyze", "verify", UnitPath); strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify %s:\n%s", UnitPath, out)
	}
	out := mustRun(t, "systemd-analyze", "security", "--offline=true", "--no-pager", UnitPath)
	m := regexp.MustCompile(`Overall exposure level for medispatcher\.service: ([0-9.]+) (\w+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd-analyze security: %s %s", m[1], m[2])
	if score >= 5.0 || !(m[2] == "OK" || m[2] == "SAFE" || m[2] == "PERFECT") {
		t.Errorf("exposure %s %s, want below 5.0 (OK or better)", m[1], m[2])
	}
}

// checkRemoved: after dpkg -r the binaries and the unit are gone, the
// configuration (with its edit) and the logs stay.
func checkRemoved(t *testing.T, bin, logFile string) {
	t.Helper()
	for _, name := range binaryNames(t, bin) {
		if _, err := os.Stat(filepath.Join(BinDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s/%s after removal: %v, want it gone", BinDir, name, err)
		}
	}
	if _, err := os.Stat(UnitPath); !os.IsNotExist(err) {
		t.Errorf("%s after removal: %v, want it gone", UnitPath, err)
	}
	if !strings.Contains(readFile(t, ConfigPath), `LogLevel = "debug"`) {
		t.Errorf("%s lost its edit on removal", ConfigPath)
	}
	readFile(t, SubsPath)
	readFile(t, logFile)
	if s := mustRun(t, "dpkg-query", "-W", "-f", "${Status}", Name); s != "deinstall ok config-files" {
		t.Errorf("status after removal = %q", s)
	}
}
