package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// EnvRequireE2E, when "1", turns a missing real component into a test
// failure instead of a skip. A non-empty CI variable does the same.
const EnvRequireE2E = "PREMETRICS_REQUIRE_E2E"

// installHint is what a test says when a real component is missing.
const installHint = "run scripts/install-deps.sh (as root) to install the real components"

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: it
// listens on port 0 and closes the listener. Another process may take the
// port before the caller binds it; StartPrometheus and StartAlertmanager
// retry with a new port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("cannot release port %d: %v", port, err)
	}
	return port
}

// RequireBinary returns the path of the executable name (looked up in PATH,
// then /usr/bin and /usr/sbin). When it is missing the test is skipped with
// a hint to run scripts/install-deps.sh, or fails when CI is set or
// PREMETRICS_REQUIRE_E2E=1, so CI cannot pass by skipping.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	if p, ok := lookBinary(name); ok {
		return p
	}
	msg := fmt.Sprintf("%s not found in PATH: %s", name, installHint)
	if requireE2E() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// lookBinary finds the first of names that is installed.
func lookBinary(names ...string) (string, bool) {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
		if filepath.Base(name) != name {
			continue
		}
		for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
			if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
				return p, true
			}
		}
	}
	return "", false
}

func requireE2E() bool {
	return os.Getenv("CI") != "" || os.Getenv(EnvRequireE2E) == "1"
}

// builds remembers one `go build` per package for the life of the test
// process; every test asking for the same package shares the binary.
var builds struct {
	mu   sync.Mutex
	pkgs map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary runs `go build` for the package pkg (an import path such as
// "github.com/premetrics/premetrics/cmd/premetrics") once per test process
// and returns the binary's path. A failed build fails every test that asks
// for it, with the compiler's output.
//
// Binaries go to $TMPDIR/premetrics-testenv-<uid>/<pid>/; each call also
// removes the directories of test processes that are no longer running, so
// nothing piles up although a test binary has no exit hook.
func BuildBinary(t testing.TB, pkg string) string {
	t.Helper()
	builds.mu.Lock()
	if builds.pkgs == nil {
		builds.pkgs = make(map[string]*build)
	}
	b := builds.pkgs[pkg]
	if b == nil {
		b = &build{}
		builds.pkgs[pkg] = b
	}
	builds.mu.Unlock()

	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func goBuild(pkg string) (string, error) {
	root := filepath.Join(os.TempDir(), "premetrics-testenv-"+strconv.Itoa(os.Getuid()))
	removeStaleBuildDirs(root)
	dir := filepath.Join(root, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cannot create build directory: %w", err)
	}
	// Two packages may share a base name; a directory of its own each.
	out, err := os.MkdirTemp(dir, path.Base(pkg)+"-")
	if err != nil {
		return "", fmt.Errorf("cannot create build directory: %w", err)
	}
	bin := filepath.Join(out, path.Base(pkg))
	// `go test` puts its own GOROOT/bin first in PATH, so this is the same
	// toolchain that builds the test.
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot build %s: %w\n%s", pkg, err, msg)
	}
	return bin, nil
}

// removeStaleBuildDirs deletes root/<pid> directories whose process is gone.
func removeStaleBuildDirs(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(filepath.Join(root, e.Name()))
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
