package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Defaults for ProcessOptions.
const (
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopTimeout  = 10 * time.Second

	pollInterval = 25 * time.Millisecond
	// outputTail bounds how much of a process's output is attached to a
	// failed test's log.
	outputTail = 64 << 10
)

// ProcessOptions describes a child process for StartProcessWithOptions.
type ProcessOptions struct {
	// Name labels the process in logs and failure messages; defaults to the
	// base name of Path.
	Name string
	// Path is the binary: a path, or a name looked up in PATH.
	Path string
	Args []string
	// Env is appended to the test's environment (later entries win).
	Env []string
	// Dir is the working directory; empty means the test's.
	Dir string
	// ReadyURL, when set, is polled with GET until it answers 200 OK.
	ReadyURL string
	// ReadyTimeout bounds the wait for ReadyURL; DefaultReadyTimeout if 0.
	ReadyTimeout time.Duration
	// StopTimeout is how long the cleanup waits after SIGTERM before it
	// sends SIGKILL; DefaultStopTimeout if 0.
	StopTimeout time.Duration
}

// Process is a child process owned by a test. Its stdout and stderr go to
// one log file; the test's cleanup stops it (SIGTERM, then SIGKILL after
// StopTimeout) and, when the test failed, attaches the log's tail to the
// test output. Methods are safe for concurrent use.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string

	done     chan struct{} // closed when the process has exited and been reaped
	exitCode int           // valid after done; -1 when killed by a signal
	waitErr  error         // valid after done

	mu       sync.Mutex
	expected bool // Stop, Kill or Wait was called: an exit is not a surprise
}

// StartProcess starts the binary name (a path, or a name looked up in PATH)
// with args and, when readyURL is not empty, waits until GET readyURL
// answers 200 OK. The test fails if the process cannot start, exits before
// it is ready, or is not ready within DefaultReadyTimeout.
func StartProcess(t testing.TB, name string, args []string, readyURL string) *Process {
	t.Helper()
	return StartProcessWithOptions(t, ProcessOptions{Path: name, Args: args, ReadyURL: readyURL})
}

// StartProcessWithOptions is StartProcess with every option.
func StartProcessWithOptions(t testing.TB, opts ProcessOptions) *Process {
	t.Helper()
	p, err := startProcess(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startProcess starts the process and waits for readiness. On a readiness
// failure the process is killed and the error carries its output. The
// cleanup is registered as soon as the process runs, so a test that fails
// or panics later still stops it.
func startProcess(t testing.TB, opts ProcessOptions) (*Process, error) {
	t.Helper()
	if opts.Path == "" {
		return nil, errors.New("cannot start process: ProcessOptions.Path is empty")
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(opts.Path)
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}

	logPath := filepath.Join(t.TempDir(), opts.Name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create log file for %s: %w", opts.Name, err)
	}
	defer logFile.Close() // the child holds its own descriptor

	cmd := exec.Command(opts.Path, opts.Args...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	// An *os.File is handed to the child as its fd 1 and 2: no copying
	// goroutines, and both streams interleave in write order.
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", opts.Name, err)
	}

	p := &Process{name: opts.Name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go p.reap()
	t.Cleanup(func() { p.cleanup(t, opts.StopTimeout) })

	if opts.ReadyURL != "" {
		if err := p.waitReady(opts.ReadyURL, opts.ReadyTimeout); err != nil {
			p.markExpected()
			p.stop(0) // SIGKILL at once
			return nil, fmt.Errorf("%w\n--- %s output ---\n%s", err, p.name, p.tail())
		}
	}
	return p, nil
}

func (p *Process) reap() {
	err := p.cmd.Wait()
	p.exitCode = p.cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		p.waitErr = err
	}
	close(p.done)
}

// waitReady polls url until it answers 200 OK, the process exits, or the
// timeout passes.
func (p *Process) waitReady(url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state := probe(client, url)
		if ok {
			return nil
		}
		last = state
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %v: last probe: %s", p.name, url, timeout, last)
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited with code %d before it was ready at %s", p.name, p.exitCode, url)
		case <-time.After(pollInterval):
		}
	}
}

func probe(client *http.Client, url string) (ok bool, state string) {
	resp, err := client.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.Status
}

// Name returns the name the process is labelled with.
func (p *Process) Name() string { return p.name }

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath returns the file that holds the process's stdout and stderr. It
// lives in a test temporary directory and is removed after the test.
func (p *Process) LogPath() string { return p.logPath }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Output returns everything the process wrote to stdout and stderr so far.
func (p *Process) Output() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read output of %s: %v)", p.name, err)
	}
	return string(b)
}

// Signal sends sig to the process; sending to an exited process is a no-op.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("cannot signal %s: %v", p.name, err)
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to exit; then
// it sends SIGKILL and fails the test, because a graceful shutdown was
// expected. A timeout <= 0 sends SIGKILL at once. It returns the exit code,
// -1 when a signal ended the process. Stopping an exited process returns
// its exit code.
func (p *Process) Stop(t testing.TB, timeout time.Duration) (exitCode int) {
	t.Helper()
	p.markExpected()
	code, killed := p.stop(timeout)
	if killed {
		t.Errorf("%s did not exit within %v of SIGTERM; sent SIGKILL", p.name, timeout)
	}
	if p.waitErr != nil {
		t.Errorf("cannot wait for %s: %v", p.name, p.waitErr)
	}
	return code
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	p.markExpected()
	p.stop(0)
}

// Wait waits up to timeout for a process that is expected to exit on its
// own and returns its exit code. On timeout it kills the process and fails
// the test.
func (p *Process) Wait(t testing.TB, timeout time.Duration) (exitCode int) {
	t.Helper()
	p.markExpected()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(timeout):
		p.stop(0)
		t.Fatalf("%s did not exit within %v; killed it", p.name, timeout)
		return -1
	}
}

func (p *Process) markExpected() {
	p.mu.Lock()
	p.expected = true
	p.mu.Unlock()
}

// stop sends SIGTERM (or SIGKILL at once when timeout is 0), waits up to
// timeout, then kills. It reports the exit code and whether SIGKILL had to
// follow a SIGTERM.
func (p *Process) stop(timeout time.Duration) (exitCode int, killed bool) {
	select {
	case <-p.done:
		return p.exitCode, false
	default:
	}
	if timeout > 0 {
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only once it exited
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		select {
		case <-p.done:
			return p.exitCode, false
		case <-ctx.Done():
			killed = true
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return p.exitCode, killed
}

// cleanup runs from t.Cleanup: it stops the process, reports an exit the
// test did not ask for, and attaches the output when the test failed.
func (p *Process) cleanup(t testing.TB, timeout time.Duration) {
	p.mu.Lock()
	expected := p.expected
	p.mu.Unlock()
	select {
	case <-p.done:
		if !expected {
			t.Errorf("%s exited unexpectedly with code %d", p.name, p.exitCode)
		}
	default:
		if _, killed := p.stop(timeout); killed {
			t.Logf("%s did not exit within %v of SIGTERM; sent SIGKILL", p.name, timeout)
		}
	}
	if t.Failed() {
		t.Logf("--- %s output (%s) ---\n%s", p.name, p.logPath, p.tail())
	}
}

// tail returns the last outputTail bytes of the output.
func (p *Process) tail() string {
	out := p.Output()
	if len(out) <= outputTail {
		return out
	}
	out = out[len(out)-outputTail:]
	if i := strings.IndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return "[... earlier output omitted ...]\n" + out
}
