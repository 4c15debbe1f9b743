package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

// recorded is what `go build` records for a module built from a git tree.
func recorded(version string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "medispatcher", Version: version}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestFromBuildInfo(t *testing.T) {
	const rev = "fa5ad0e0123456789abcdef0123456789abcdef0"
	for _, tc := range []struct {
		name                string
		bi                  *debug.BuildInfo
		version, hash, time string
	}{
		{"none recorded", nil, "", "", ""},
		{"no vcs", recorded("(devel)"), "", "", ""},
		{"clean tree", recorded("(devel)", "vcs", "git", "vcs.revision", rev, "vcs.time", "2030-01-02T03:04:05Z", "vcs.modified", "false"),
			"", "fa5ad0e01234", "2030-01-02T03:04:05Z"},
		{"dirty tree", recorded("v0.0.0-20300102030405-fa5ad0e01234+dirty", "vcs.revision", rev, "vcs.modified", "true"),
			"v0.0.0-20300102030405-fa5ad0e01234+dirty", "fa5ad0e01234-dirty", ""},
		{"go install of a tag", recorded("v1.2.3"), "v1.2.3", "", ""},
		{"short revision", recorded("", "vcs.revision", "abc"), "", "abc", ""},
		{"modified without revision", recorded("(devel)", "vcs.modified", "true"), "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, h, tm := fromBuildInfo(tc.bi)
			if v != tc.version || h != tc.hash || tm != tc.time {
				t.Errorf("fromBuildInfo = %q, %q, %q; want %q, %q, %q", v, h, tm, tc.version, tc.hash, tc.time)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	bi := recorded("v1.2.3", "vcs.revision", "0123456789abcdef", "vcs.time", "2030-01-02T03:04:05Z")
	for _, tc := range []struct {
		name   string
		linked [3]string
		bi     *debug.BuildInfo
		want   [3]string
		build  string
	}{
		{"linker values win", [3]string{"v9.8.7", "fedcba987654", "2031-01-01T00:00:00Z"}, bi,
			[3]string{"v9.8.7", "fedcba987654", "2031-01-01T00:00:00Z"}, "Makefile build"},
		{"empty linker values fall back", [3]string{}, bi,
			[3]string{"v1.2.3", "0123456789ab", "2030-01-02T03:04:05Z"}, "go build / go install"},
		{"each value on its own", [3]string{"v9.8.7", "", ""}, bi,
			[3]string{"v9.8.7", "0123456789ab", "2030-01-02T03:04:05Z"}, "partial -X"},
		{"nothing recorded", [3]string{}, nil, [3]string{"dev", "unknown", "unknown"}, "defaults"},
		{"devel without vcs", [3]string{}, recorded("(devel)"), [3]string{"dev", "unknown", "unknown"}, "go test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, h, tm := resolve(tc.linked[0], tc.linked[1], tc.linked[2], tc.bi)
			if got := [3]string{v, h, tm}; got != tc.want {
				t.Errorf("%s: resolve = %q; want %q", tc.build, got, tc.want)
			}
		})
	}
}

func TestStringNamesEverything(t *testing.T) {
	s := String("medispatcher")
	for _, want := range []string{"medispatcher " + Version, "built " + BuildTime, "git " + GitHash} {
		if !strings.Contains(s, want) {
			t.Errorf("String = %q, want it to contain %q", s, want)
		}
	}
	if Version == "" || GitHash == "" || BuildTime == "" {
		t.Errorf("a value left empty after init: %q", s)
	}
}
