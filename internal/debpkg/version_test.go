package debpkg

import (
	"os/exec"
	"testing"
)

func TestDebVersion(t *testing.T) {
	cases := map[string]string{
		"1.2.3":              "1.2.3",
		"v1.2.3":             "1.2.3",
		"v1.2.3-4-gabc1234":  "1.2.3+4+gabc1234",
		"v3.0.0-rc1-dirty":   "3.0.0+rc1+dirty",
		"db2fc79":            "0~gitdb2fc79",
		"db2fc79-dirty":      "0~gitdb2fc79+dirty",
		"dev":                "0~gitdev",
		"":                   "0~git",
		"vX":                 "0~gitvX",
		"2.1_beta:é":         "2.1+beta++",
		"release/2024.05.01": "0~gitrelease+2024.05.01",
	}
	for stamp, want := range cases {
		if got := DebVersion(stamp); got != want {
			t.Errorf("DebVersion(%q) = %q, want %q", stamp, got, want)
		}
	}
}

// TestDebVersionOrder checks with dpkg itself that every mapped version is
// valid and that the order of builds is kept: a snapshot sorts below any
// release, later commits above their tag.
func TestDebVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg not installed: the order is checked where dpkg is")
	}
	ordered := []string{"db2fc79", "v0.9", "v1.2.3", "v1.2.3-4-gabc1234", "v1.2.3-4-gabc1234-dirty", "v1.10.0"}
	for i := 1; i < len(ordered); i++ {
		a, b := DebVersion(ordered[i-1]), DebVersion(ordered[i])
		out, err := exec.Command("dpkg", "--compare-versions", a, "lt", b).CombinedOutput()
		if err != nil {
			t.Errorf("dpkg --compare-versions %s lt %s: %v %s", a, b, err, out)
		}
	}
}
