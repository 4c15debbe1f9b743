package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoEngine: medictl only speaks HTTP to the admin API, so it
// links none of the dispatcher, the observers, the daemon's process
// packages or the beanstalkd pool: the API's wire types come from
// adminapi.
func TestLinksNoEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "medispatcher/cmd/medictl").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"medispatcher/engine/ops/cli":      true,
		"medispatcher/engine/ops/ctl":      true,
		"medispatcher/engine/ops/adminapi": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if (strings.HasPrefix(p, "medispatcher/engine/") && !allowed[p]) || strings.HasPrefix(p, "medispatcher/connpool") {
			t.Errorf("medictl links %s", p)
		}
	}
}
