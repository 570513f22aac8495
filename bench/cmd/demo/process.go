package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is a child process whose output goes to a log file (or to the
// demo's own stdout when log is "").
type process struct {
	name    string
	cmd     *exec.Cmd
	log     string
	done    chan struct{}
	err     error
	stopped bool
}

// start starts bin with args; env entries are added to the environment.
func start(log string, env []string, bin string, args ...string) (*process, error) {
	p := &process{name: bin, log: log, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if log == "" {
		p.cmd.Stdout, p.cmd.Stderr = os.Stdout, os.Stderr
	} else {
		f, err := os.Create(log)
		if err != nil {
			return nil, err
		}
		p.cmd.Stdout, p.cmd.Stderr = f, f
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w (run `make deps build`)", bin, err)
	}
	go func() {
		defer close(p.done)
		p.err = p.cmd.Wait()
	}()
	return p, nil
}

// wait waits for the process to exit by itself.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.stop()
		return ctx.Err()
	}
}

// stop sends SIGTERM, waits up to 30 s, then kills; it returns the exit code.
func (p *process) stop() int {
	if !p.stopped {
		p.stopped = true
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// tail returns the end of the process' log.
func (p *process) tail() string {
	if p.log == "" {
		return ""
	}
	data, _ := os.ReadFile(p.log)
	s := string(data)
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
