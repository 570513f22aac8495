package harness

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles premetrics and the load generator of the module at root
// into dir and returns their paths.
func Build(ctx context.Context, root, dir string) (premetrics, loadgen string, err error) {
	premetrics, loadgen = filepath.Join(dir, "premetrics"), filepath.Join(dir, "loadgen")
	for _, b := range []struct{ out, pkg string }{{premetrics, "./cmd/premetrics"}, {loadgen, "./bench/cmd/loadgen"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("cannot build %s: %w\n%s", b.pkg, err, strings.TrimSpace(string(out)))
		}
	}
	return premetrics, loadgen, nil
}

// ModuleRoot returns the directory of the main module around the current
// directory (go env GOMOD).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("cannot find the module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		return "", fmt.Errorf("cannot find the module root: not inside a module")
	}
	return filepath.Dir(gomod), nil
}
