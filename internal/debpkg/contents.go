package debpkg

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2/files"
)

// Where the package puts its files.
const (
	BinDir      = "/usr/bin"
	ConfDir     = "/etc/medispatcher"
	UnitPath    = "/lib/systemd/system/medispatcher.service"
	DocDir      = "/usr/share/doc/medispatcher"
	ConfigPath  = ConfDir + "/medispatcher.toml"
	SubsPath    = ConfDir + "/subscriptions.toml"
	LogDir      = "/var/log/medispatcher"
	serviceUnit = "medispatcher.service"
)

// contents lists every file of the package. The configuration files are
// conffiles, mode 0640: they may hold passwords, and postinst gives them
// the service's group.
func (s Spec) contents() (files.Contents, error) {
	bins, err := binaries(s.BinDir)
	if err != nil {
		return nil, err
	}
	c := make(files.Contents, 0, len(bins)+6)
	for _, b := range bins {
		c = append(c, file(filepath.Join(s.BinDir, b), BinDir+"/"+b, "", 0o755))
	}
	c = append(c,
		file(filepath.Join(s.ServiceDir, "medispatcher.toml"), ConfigPath, files.TypeConfig, 0o640),
		file(filepath.Join(s.ServiceDir, "subscriptions.toml"), SubsPath, files.TypeConfig, 0o640),
		file(filepath.Join(s.ServiceDir, serviceUnit), UnitPath, "", 0o644),
		file(filepath.Join(s.DocDir, "medispatcher.example.toml"), DocDir+"/medispatcher.example.toml", "", 0o644),
		file(filepath.Join(s.DocDir, "subscriptions.example.toml"), DocDir+"/subscriptions.example.toml", "", 0o644),
	)
	return c, nil
}

// file is one regular file of the package, owned by root.
func file(src, dst, typ string, mode os.FileMode) *files.Content {
	return &files.Content{
		Source:      src,
		Destination: dst,
		Type:        typ,
		FileInfo:    &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode},
	}
}

// binaries are the names of the executable regular files in dir, at
// least one.
func binaries(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("binaries: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("binaries: %w", err)
		}
		if fi.Mode().Perm()&0o111 != 0 {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("binaries: no executable file in %s", dir)
	}
	return names, nil
}
