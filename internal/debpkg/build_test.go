package debpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildArchive builds a package of stand-in binaries and reads it back
// with dpkg-deb: the control fields, the conffiles, the maintainer scripts
// and every file with its mode.
func TestBuildArchive(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed: the archive is read back where it is")
	}
	bin := t.TempDir()
	for _, name := range []string{"medispatcher", "medictl"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Not executable: left out.
	if err := os.WriteFile(filepath.Join(bin, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	path, err := Build(Spec{BinDir: bin, ServiceDir: serviceDir, DocDir: docDir, Version: "v2.3.4-5-gabcdef0", Arch: "amd64"}, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "medispatcher_2.3.4+5+gabcdef0_amd64.deb"); path != want {
		t.Errorf("path = %s, want %s", path, want)
	}

	control := dpkgDeb(t, "--field", path)
	for _, want := range []string{"Package: medispatcher", "Version: 2.3.4+5+gabcdef0", "Architecture: amd64", "Recommends: beanstalkd, redis-server"} {
		if !strings.Contains(control, want+"\n") {
			t.Errorf("control lacks %q:\n%s", want, control)
		}
	}
	if strings.Contains(control, "Depends:") {
		t.Errorf("control has hard dependencies:\n%s", control)
	}
	if got := dpkgDeb(t, "--info", path, "conffiles"); got != ConfigPath+"\n"+SubsPath+"\n" {
		t.Errorf("conffiles = %q", got)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if got := dpkgDeb(t, "--info", path, script); !strings.HasPrefix(got, "#!/bin/sh\n") {
			t.Errorf("%s = %.40q…", script, got)
		}
	}
	checkListing(t, dpkgDeb(t, "--contents", path))
}

// checkListing checks the mode and owner of every file the package must
// hold in a `dpkg-deb --contents` listing, and that it holds no other file.
func checkListing(t *testing.T, listing string) {
	t.Helper()
	want := map[string]string{
		"./usr/bin/medispatcher": "-rwxr-xr-x",
		"./usr/bin/medictl":      "-rwxr-xr-x",
		"." + ConfigPath:         "-rw-r-----",
		"." + SubsPath:           "-rw-r-----",
		"." + UnitPath:           "-rw-r--r--",
		"." + DocDir + "/medispatcher.example.toml":  "-rw-r--r--",
		"." + DocDir + "/subscriptions.example.toml": "-rw-r--r--",
	}
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		mode, owner, name := f[0], f[1], f[len(f)-1]
		wantMode, ok := want[name]
		switch {
		case !ok:
			t.Errorf("unexpected file %s", line)
		case mode != wantMode || owner != "root/root":
			t.Errorf("%s: %s %s, want %s root/root", name, mode, owner, wantMode)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("missing %s", name)
	}
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
