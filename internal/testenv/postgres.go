//go:build unix

package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresBinGlob is where Debian's postgresql-NN packages put the server
// binaries (not in PATH).
const postgresBinGlob = "/usr/lib/postgresql/*/bin"

// Postgres is a throwaway PostgreSQL server: a fresh initdb cluster in a
// temporary directory, listening on 127.0.0.1 only (no Unix socket),
// trust authentication for the superuser "postgres", fsync off. The
// test's cleanup stops it (fast shutdown) and removes the directory.
//
// As root it runs as the "postgres" user (which Debian's package creates):
// the server refuses to run as root.
type Postgres struct {
	dir  string
	port int
	proc *Process
}

// StartPostgres runs initdb and postgres from the newest installed
// /usr/lib/postgresql/*/bin and waits until the server accepts
// connections. A missing installation skips the test with a hint to run
// scripts/install-deps.sh, or fails it when CI is set or
// PREMETRICS_REQUIRE_E2E=1, as RequireBinary does.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := requirePostgres(t)
	cred := postgresCredential(t)

	dir, err := os.MkdirTemp("", "premetrics-postgres-")
	if err != nil {
		t.Fatalf("cannot create PostgreSQL directory: %v", err)
	}
	// Registered first, so it runs after the server has stopped.
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("cannot hand %s to the postgres user: %v", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = withCredential(childProcAttr(), cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb failed: %v\n%s", err, out)
	}

	p := &Postgres{dir: dir}
	var lastErr error
	for range startAttempts {
		p.port = FreePort(t)
		proc, err := startProcessAs(t, "postgres", filepath.Join(bin, "postgres"), []string{
			"-D", data,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "port=" + strconv.Itoa(p.port),
			"-c", "unix_socket_directories=",
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		}, dir, cred)
		if err != nil {
			t.Fatal(err)
		}
		if err = p.waitReady(proc, DefaultReadyTimeout); err == nil {
			p.proc = proc
			// Before the Process cleanup (cleanups run last first): SIGINT
			// is PostgreSQL's fast shutdown, which does not wait for
			// clients to disconnect as SIGTERM's smart shutdown does.
			t.Cleanup(func() { p.stop() })
			return p
		}
		lastErr = err
		proc.markExpected()
		proc.stop(0)
		if !strings.Contains(proc.Output(), "already in use") {
			break
		}
	}
	t.Fatalf("cannot start postgres: %v", lastErr)
	return nil
}

// requirePostgres returns the directory of the newest installed server
// binaries.
func requirePostgres(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob(postgresBinGlob)
	slices.SortFunc(dirs, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "postgres")) && isExecutable(filepath.Join(d, "initdb")) {
			return d
		}
	}
	msg := fmt.Sprintf("PostgreSQL server not found in %s: %s", postgresBinGlob, installHint)
	if requireE2E() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// postgresCredential returns the postgres user's credential when running
// as root, nil otherwise (the server then runs as the test's user).
func postgresCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root, PostgreSQL needs the postgres user, which the Debian package creates: %v; %s", err, installHint)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}

func withCredential(attr *syscall.SysProcAttr, cred *syscall.Credential) *syscall.SysProcAttr {
	if cred == nil {
		return attr
	}
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Credential = cred
	return attr
}

// startProcessAs starts a Process like startProcess, as the user of cred
// (nil: the test's user), without a readiness URL. The Go runtime sets
// the parent-death signal after switching users, so it still applies.
func startProcessAs(t testing.TB, name, path string, args []string, dir string, cred *syscall.Credential) (*Process, error) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create log file for %s: %w", name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = withCredential(childProcAttr(), cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go p.reap()
	t.Cleanup(func() { p.cleanup(t, DefaultStopTimeout) })
	return p, nil
}

// waitReady polls with a connection until the server answers a query.
func (p *Postgres) waitReady(proc *Process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.DSN())
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready on 127.0.0.1:%d within %v: %v\n--- postgres output ---\n%s", p.port, timeout, err, proc.tail())
		}
		select {
		case <-proc.done:
			return fmt.Errorf("postgres exited with code %d before it was ready\n--- postgres output ---\n%s", proc.exitCode, proc.tail())
		case <-time.After(pollInterval):
		}
	}
}

func (p *Postgres) stop() {
	p.proc.markExpected()
	_ = p.proc.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.proc.done:
	case <-time.After(DefaultStopTimeout):
		// the Process cleanup that follows sends SIGTERM, then SIGKILL
	}
}

// DSN returns a connection URL for the superuser "postgres" to the
// database "postgres".
func (p *Postgres) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Port returns the server's port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// Process returns the server process.
func (p *Postgres) Process() *Process { return p.proc }

// Exec runs sql (one or more statements without arguments, or one with
// args) and fails the test on error.
func (p *Postgres) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		t.Fatalf("cannot connect to postgres: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("postgres: %v\nin: %s", err, sql)
	}
}
