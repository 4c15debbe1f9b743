package testsrv

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// BuildBinary builds the Go command pkg (e.g. "medispatcher/cmd/medispatcher")
// into dir, for tests that run it as a process as operators do; it returns
// the binary's path.
func BuildBinary(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}
