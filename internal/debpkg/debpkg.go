// Package debpkg builds medispatcher's Debian package: the binaries in
// /usr/bin, the configuration in /etc/medispatcher as conffiles (an upgrade
// never overwrites an edited one), the systemd unit, the example files as
// documentation, and the maintainer scripts that create the service's user
// and log directory. The archive itself is written by nfpm's deb packager.
//
// The package takes its files from a directory of built binaries and from
// the repository's scripts/service directory; it neither builds nor signs
// anything.
package debpkg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

// Name is the package's name (and the service's, user's and group's).
const Name = "medispatcher"

// Spec is what one package is built from.
type Spec struct {
	// BinDir holds the binaries; every executable regular file in it goes
	// to /usr/bin.
	BinDir string
	// ServiceDir is the repository's scripts/service: the unit, the two
	// configuration files and deb/{postinst,prerm,postrm}.
	ServiceDir string
	// DocDir holds medispatcher.example.toml and
	// subscriptions.example.toml (the repository's scripts).
	DocDir string
	// Version is the stamp the binaries print (`medispatcher -v`); see
	// DebVersion for the package version made of it.
	Version string
	// Arch is a GOARCH ("" = this machine's).
	Arch string
	// Maintainer is the control file's Maintainer field.
	Maintainer string
	// MTime stamps every file of the archive (zero = now), so that a build
	// can be reproduced.
	MTime time.Time
}

// Build writes the package to out: a file path, or an existing directory
// that gets the conventional name <name>_<version>_<arch>.deb. It returns
// the path written.
func Build(s Spec, out string) (path string, err error) {
	info, err := s.info()
	if err != nil {
		return "", err
	}
	path = out
	if fi, statErr := os.Stat(out); statErr == nil && fi.IsDir() {
		path = filepath.Join(out, deb.Default.ConventionalFileName(info))
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("create package: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close package %s: %w", path, cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if err := deb.Default.Package(info, f); err != nil {
		return "", fmt.Errorf("write package %s: %w", path, err)
	}
	return path, nil
}

// info is the nfpm description of the package.
func (s Spec) info() (*nfpm.Info, error) {
	if s.Version == "" {
		return nil, errors.New("package version: empty stamp")
	}
	contents, err := s.contents()
	if err != nil {
		return nil, err
	}
	arch := s.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	mtime := s.MTime
	if mtime.IsZero() {
		mtime = time.Now()
	}
	maint := s.Maintainer
	if maint == "" {
		maint = "medispatcher maintainers <root@localhost>"
	}
	info := &nfpm.Info{
		Name:          Name,
		Arch:          arch,
		Platform:      "linux",
		Version:       DebVersion(s.Version),
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    maint,
		Description: "beanstalkd to HTTP message dispatcher\n" +
			"medispatcher moves messages from a beanstalkd main tube to\n" +
			"per-subscription channel tubes and pushes them to subscribers\n" +
			"over HTTP, with retries, failure records and alerts.",
		MTime: mtime,
		Overridables: nfpm.Overridables{
			// The servers may run on other hosts: recommended, not required.
			Recommends: []string{"beanstalkd", "redis-server"},
			Contents:   contents,
			Umask:      0o022,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(s.ServiceDir, "deb", "postinst"),
				PreRemove:   filepath.Join(s.ServiceDir, "deb", "prerm"),
				PostRemove:  filepath.Join(s.ServiceDir, "deb", "postrm"),
			},
		},
	}
	return info, nil
}
