package daemon

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// upgradeVersion is the version stamped into the binary a rolling upgrade
// moves the fleet to.
const upgradeVersion = "9.9.9-rolling-upgrade"

// buildUpgrade builds the daemon again into dir, stamped with version as
// the Makefile stamps a release, and returns its path.
func buildUpgrade(t *testing.T, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "medispatcher-"+version)
	out, err := exec.Command("go", "build", "-ldflags", "-X medispatcher/internal/buildinfo.Version="+version,
		"-o", bin, "medispatcher/cmd/medispatcher").CombinedOutput()
	require.NoError(t, err, "build the upgrade:\n%s", out)
	return bin
}

// versionOf is what bin -v prints.
func versionOf(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "-v").CombinedOutput()
	require.NoError(t, err, "%s -v:\n%s", bin, out)
	return strings.TrimSpace(string(out))
}

// A rolling upgrade of a fleet of two under a steady load: each daemon in
// turn gets SIGTERM, drains, and is started again from a binary of another
// version, while the other one goes on delivering. Asserted: every message
// delivered, none twice (SIGTERM gives back what it did not push, and
// nothing it pushed comes again); while a daemon is down the other one
// pushes; each upgraded daemon pushes its share afterwards.
func TestFleetRollingUpgradeUnderLoad(t *testing.T) {
	upgrade := buildUpgrade(t, t.TempDir(), upgradeVersion)
	from, to := versionOf(t, binary), versionOf(t, upgrade)
	require.NotEqual(t, from, to, "the upgrade is another version")
	require.Contains(t, to, upgradeVersion)
	t.Logf("upgrading from %q to %q", from, to)

	f := newFleet(t, fleetSubscriptions()...)
	// Answers of 10 ms: a daemon has pushes in flight when SIGTERM comes.
	f.w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 10 * time.Millisecond })
	f.start()
	// 100 messages per second on each server, 2 subscriptions each.
	stops := [2]func() int{f.prod[0].paced("fa", 10*time.Millisecond), f.prod[1].paced("fa", 10*time.Millisecond)}
	f.w.sub.WaitFor(10*time.Second, "the load delivered", func(h []testsrv.Hit) bool { return len(h) >= 100 })

	for i := range f.d {
		f.upgrade(i, upgrade)
	}
	upgraded := len(f.w.sub.Hits())
	f.w.sub.WaitFor(10*time.Second, "the load delivered after the upgrade",
		func(h []testsrv.Hit) bool { return len(h) >= upgraded+100 })

	total := 2 * (stops[0]() + stops[1]()) // topic fa has 2 subscriptions
	dups := f.deliverAll(total)
	t.Logf("%d pushes of %d messages through a rolling upgrade, %d duplicates", total, total/2, dups)
	require.Zero(t, dups, "no message pushed twice")
	f.stop(0)
	f.stop(1)
}

// upgrade stops daemon i with SIGTERM, requires the other one to push while
// it is down, and starts it again from bin; it returns once the new one
// pushes.
func (f *fleet) upgrade(i int, bin string) {
	t := f.w.t
	t.Helper()
	other := 1 - i
	f.stop(i)
	down := time.Now()
	// Pushes come while daemon i is down: counted before it starts again.
	otherBefore := f.pushed(other)
	require.Eventually(t, func() bool { return f.pushed(other) >= otherBefore+50 }, 10*time.Second, 10*time.Millisecond,
		"daemon %d pushes while daemon %d is down:\n%s", other, i, f.logs[other])
	f.d[i] = f.w.startCmd(exec.Command(bin, "-c", f.cfgs[i]), f.logs[i])
	waitMetrics(t, f.metrics[i], f.logs[i])
	downFor, during := time.Since(down), f.pushed(other)-otherBefore
	require.Eventually(t, func() bool { return f.pushed(i) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the upgraded daemon %d pushes:\n%s", i, f.logs[i])
	t.Logf("daemon %d upgraded: down %v, daemon %d pushed %.0f meanwhile",
		i, downFor.Round(time.Millisecond), other, during)
}
