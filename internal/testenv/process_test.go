package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const fixturePkg = "github.com/premetrics/premetrics/internal/testenv/testdata/procfixture"

// startFixture starts the procfixture binary serving /-/ready.
func startFixture(t *testing.T, extra ...string) (*Process, string) {
	t.Helper()
	bin := os.Getenv(envHelperBin) // set for the helper test's child binary
	if bin == "" {
		bin = BuildBinary(t, fixturePkg)
	}
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	args := append([]string{"-listen", addr}, extra...)
	return StartProcess(t, bin, args, "http://"+addr+"/-/ready"), addr
}

func TestProcessStopReturnsExitCode(t *testing.T) {
	p, _ := startFixture(t, "-exit-code", "7")
	if got := p.Stop(t, 10*time.Second); got != 7 {
		t.Fatalf("Stop() = %d, want 7", got)
	}
	if got := p.Stop(t, 10*time.Second); got != 7 {
		t.Fatalf("second Stop() = %d, want 7 again", got)
	}
	out := p.Output()
	for _, want := range []string{"procfixture started", "procfixture stderr line", "procfixture got SIGTERM"} {
		if !strings.Contains(out, want) {
			t.Errorf("Output() = %q, want it to contain %q", out, want)
		}
	}
}

func TestProcessStopZeroExitCode(t *testing.T) {
	p, _ := startFixture(t)
	if got := p.Stop(t, 10*time.Second); got != 0 {
		t.Fatalf("Stop() = %d, want 0", got)
	}
}

func TestProcessStopKillsAfterTimeout(t *testing.T) {
	p, _ := startFixture(t, "-ignore-term")
	p.markExpected()
	code, killed := p.stop(200 * time.Millisecond)
	if !killed || code != -1 {
		t.Fatalf("stop() = (%d, killed=%v), want (-1, true) for a process that ignores SIGTERM", code, killed)
	}
}

func TestProcessKill(t *testing.T) {
	p, _ := startFixture(t)
	p.Kill(t)
	select {
	case <-p.Done():
	default:
		t.Fatal("Done() not closed after Kill")
	}
	if got := p.Stop(t, time.Second); got != -1 {
		t.Fatalf("Stop() after Kill = %d, want -1", got)
	}
}

func TestProcessWait(t *testing.T) {
	bin := BuildBinary(t, fixturePkg)
	p := StartProcess(t, bin, []string{"-exit-code", "4"}, "")
	if got := p.Wait(t, 30*time.Second); got != 4 {
		t.Fatalf("Wait() = %d, want 4", got)
	}
}

func TestProcessExitBeforeReadyIsAnError(t *testing.T) {
	bin := BuildBinary(t, fixturePkg)
	url := "http://127.0.0.1:" + strconv.Itoa(FreePort(t)) + "/-/ready"
	// Without -listen the fixture exits at once with the exit code.
	_, err := startProcess(t, ProcessOptions{Path: bin, Args: []string{"-exit-code", "3"}, ReadyURL: url})
	if err == nil {
		t.Fatal("startProcess succeeded for a process that exits before it is ready")
	}
	for _, want := range []string{"exited with code 3 before it was ready", "procfixture started"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestProcessNotReadyInTime(t *testing.T) {
	bin := BuildBinary(t, fixturePkg)
	// The fixture listens on one port; readiness is polled on another.
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	url := "http://127.0.0.1:" + strconv.Itoa(FreePort(t)) + "/-/ready"
	_, err := startProcess(t, ProcessOptions{Path: bin, Args: []string{"-listen", addr}, ReadyURL: url, ReadyTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not ready at "+url) {
		t.Fatalf("startProcess error = %v, want a readiness timeout", err)
	}
}

func TestProcessEnv(t *testing.T) {
	p := StartProcessWithOptions(t, ProcessOptions{
		Name: "env",
		Path: "sh",
		Args: []string{"-c", `echo "value=$TESTENV_VALUE"`},
		Env:  []string{"TESTENV_VALUE=42"},
	})
	if got := p.Wait(t, 30*time.Second); got != 0 {
		t.Fatalf("exit code %d, want 0", got)
	}
	if out := p.Output(); out != "value=42\n" {
		t.Fatalf("Output() = %q, want %q", out, "value=42\n")
	}
}

// The cleanup tests run a helper test in a child test binary that starts
// the fixture, records its pid, and then dies in the given way. Afterwards
// the fixture must be gone.
const (
	envHelperMode = "TESTENV_HELPER_MODE"
	envHelperPID  = "TESTENV_HELPER_PIDFILE"
	envHelperBin  = "TESTENV_HELPER_FIXTURE"
)

func TestHelperDiesWithProcess(t *testing.T) {
	mode := os.Getenv(envHelperMode)
	if mode == "" {
		t.Skip("helper for TestCleanupStopsProcess")
	}
	p, _ := startFixture(t)
	if err := os.WriteFile(os.Getenv(envHelperPID), []byte(strconv.Itoa(p.PID())), 0o644); err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "panic":
		panic("helper panics on purpose")
	case "fatal":
		t.Fatal("helper fails on purpose")
	case "exit":
		os.Exit(3) // no cleanups run: only Pdeathsig stops the child
	}
}

func TestCleanupStopsProcess(t *testing.T) {
	bin := BuildBinary(t, fixturePkg)
	for _, mode := range []string{"panic", "fatal", "exit"} {
		t.Run(mode, func(t *testing.T) {
			pidFile := t.TempDir() + "/pid"
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDiesWithProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), envHelperMode+"="+mode, envHelperPID+"="+pidFile, envHelperBin+"="+bin)
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Fatalf("helper test should fail, got err=%v\n%s", err, out)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("helper did not record the fixture's pid: %v\n%s", err, out)
			}
			pid, err := strconv.Atoi(string(b))
			if err != nil {
				t.Fatal(err)
			}
			WaitFor(t, 10*time.Second, "fixture to be gone", func() error {
				if alive(pid) {
					return errors.New("pid " + strconv.Itoa(pid) + " still running")
				}
				return nil
			})
			if mode == "fatal" && !strings.Contains(string(out), "procfixture started") {
				t.Errorf("failed helper's log lacks the fixture's output:\n%s", out)
			}
		})
	}
}

// alive reports whether pid runs; an unreaped zombie counts as gone.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Field 3, after "(comm)", is the state.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestMergeFlags(t *testing.T) {
	defaults := []string{"--a=1", "--b", "--c=3"}
	got := mergeFlags(defaults, []string{"--a=9", "--no-b", "--d", "x"})
	want := []string{"--c=3", "--a=9", "--no-b", "--d", "x"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("mergeFlags() = %q, want %q", got, want)
	}
}

func TestBuildBinaryOncePerPackage(t *testing.T) {
	a := BuildBinary(t, fixturePkg)
	b := BuildBinary(t, fixturePkg)
	if a != b {
		t.Fatalf("BuildBinary built twice: %s and %s", a, b)
	}
	if _, err := os.Stat(a); err != nil {
		t.Fatal(err)
	}
}

func TestRequireBinaryMissingSkips(t *testing.T) {
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		t.Setenv("CI", "")
		t.Setenv(EnvRequireE2E, "")
		defer func() { skipped = t.Skipped() }()
		RequireBinary(t, "premetrics-testenv-no-such-binary")
	})
	if !skipped {
		t.Fatal("RequireBinary did not skip for a missing binary outside CI")
	}
}
