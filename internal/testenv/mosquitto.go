package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MosquittoOptions configures StartMosquitto. The zero value is a broker
// that lets anyone in on one plain listener.
type MosquittoOptions struct {
	// Users are username → password. When set, anonymous clients are
	// refused and the users go to a password file made with
	// mosquitto_passwd.
	Users map[string]string
	// TLS adds a second listener that speaks TLS with these files (see
	// WriteTestCerts).
	TLS *MosquittoTLS
	// ExtraConfig is appended to mosquitto.conf, e.g.
	// "max_inflight_messages 5\n". Listeners belong to StartMosquitto.
	ExtraConfig string
}

// MosquittoTLS are the PEM files of a TLS listener.
type MosquittoTLS struct {
	CAFile, CertFile, KeyFile string
	// RequireClientCert makes the broker demand a client certificate
	// signed by CAFile.
	RequireClientCert bool
}

// Mosquitto is a real Mosquitto broker on 127.0.0.1 with persistence in a
// test temporary directory, so that Restart keeps persistent sessions and
// their queued messages. The test's cleanup stops it.
type Mosquitto struct {
	bin      string
	dir      string
	confPath string
	port     int
	tlsPort  int // 0 without TLS
	proc     *Process
}

// StartMosquitto starts the installed mosquitto (see RequireBinary) and
// waits until its listeners accept connections.
func StartMosquitto(t testing.TB, opts MosquittoOptions) *Mosquitto {
	t.Helper()
	m := &Mosquitto{bin: RequireBinary(t, "mosquitto"), dir: t.TempDir()}
	pwFile := ""
	if len(opts.Users) > 0 {
		pwFile = filepath.Join(m.dir, "passwd")
		writePasswordFile(t, pwFile, opts.Users)
	}
	var lastErr error
	for range startAttempts {
		m.port = FreePort(t)
		if opts.TLS != nil {
			m.tlsPort = FreePort(t)
		}
		if err := m.writeConfig(opts, pwFile); err != nil {
			t.Fatal(err)
		}
		proc, err := m.start(t)
		if err == nil {
			m.proc = proc
			return m
		}
		lastErr = err
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	t.Fatalf("cannot start mosquitto: %v", lastErr)
	return nil
}

// writeConfig writes mosquitto.conf.
func (m *Mosquitto) writeConfig(opts MosquittoOptions, pwFile string) error {
	var sb strings.Builder
	if os.Geteuid() == 0 {
		sb.WriteString("user root\n") // keep access to the temporary directory
	}
	fmt.Fprintf(&sb, "per_listener_settings false\n")
	fmt.Fprintf(&sb, "persistence true\npersistence_location %s/\npersistence_file mosquitto.db\n", m.dir)
	sb.WriteString("log_dest stderr\nlog_type all\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\nconnection_messages true\n")
	if pwFile != "" {
		fmt.Fprintf(&sb, "allow_anonymous false\npassword_file %s\n", pwFile)
	} else {
		sb.WriteString("allow_anonymous true\n")
	}
	fmt.Fprintf(&sb, "listener %d 127.0.0.1\n", m.port)
	if opts.TLS != nil {
		fmt.Fprintf(&sb, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate %t\n",
			m.tlsPort, opts.TLS.CAFile, opts.TLS.CertFile, opts.TLS.KeyFile, opts.TLS.RequireClientCert)
	}
	if opts.ExtraConfig != "" {
		// Global options may follow listeners with per_listener_settings
		// false.
		sb.WriteString(strings.TrimSpace(opts.ExtraConfig) + "\n")
	}
	m.confPath = filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(m.confPath, []byte(sb.String()), 0o600); err != nil {
		return fmt.Errorf("cannot write mosquitto.conf: %w", err)
	}
	return nil
}

// start runs mosquitto with the written config and waits for its ports.
func (m *Mosquitto) start(t testing.TB) (*Process, error) {
	t.Helper()
	proc, err := startProcess(t, ProcessOptions{Name: "mosquitto", Path: m.bin, Args: []string{"-c", m.confPath}})
	if err != nil {
		return nil, err
	}
	ports := []int{m.port}
	if m.tlsPort != 0 {
		ports = append(ports, m.tlsPort)
	}
	if err := waitListening(proc, ports, DefaultReadyTimeout); err != nil {
		proc.markExpected()
		proc.stop(0)
		return nil, fmt.Errorf("%w\n--- mosquitto output ---\n%s", err, proc.tail())
	}
	return proc, nil
}

// waitListening waits until every port on 127.0.0.1 accepts a TCP
// connection, the process exits, or timeout passes.
func waitListening(p *Process, ports []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, port := range ports {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not listening on %s within %v: %v", p.name, addr, timeout, err)
			}
			select {
			case <-p.done:
				return fmt.Errorf("%s exited with code %d before it listened on %s", p.name, p.exitCode, addr)
			case <-time.After(pollInterval):
			}
		}
	}
	return nil
}

// URL returns the plain listener's URL, tcp://127.0.0.1:PORT.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr() }

// Addr returns the plain listener's address, 127.0.0.1:PORT.
func (m *Mosquitto) Addr() string { return "127.0.0.1:" + strconv.Itoa(m.port) }

// Port returns the plain listener's port.
func (m *Mosquitto) Port() int { return m.port }

// TLSURL returns the TLS listener's URL, ssl://127.0.0.1:PORT, or "" when
// MosquittoOptions.TLS was nil.
func (m *Mosquitto) TLSURL() string {
	if m.tlsPort == 0 {
		return ""
	}
	return "ssl://127.0.0.1:" + strconv.Itoa(m.tlsPort)
}

// Dir returns the broker's directory: mosquitto.conf, passwd and the
// persistence file mosquitto.db.
func (m *Mosquitto) Dir() string { return m.dir }

// Process returns the running broker process (a new one after Start).
func (m *Mosquitto) Process() *Process { return m.proc }

// Output returns what the broker logged so far; after a restart, what the
// current process logged.
func (m *Mosquitto) Output() string { return m.proc.Output() }

// Stop stops the broker gracefully (SIGTERM: it saves its persistence
// file) and fails the test if it does not exit within 10s.
func (m *Mosquitto) Stop(t testing.TB) {
	t.Helper()
	m.proc.Stop(t, DefaultStopTimeout)
}

// Start starts the stopped broker again on the same ports with the same
// configuration and persistence file, and waits until it listens.
func (m *Mosquitto) Start(t testing.TB) {
	t.Helper()
	select {
	case <-m.proc.Done():
	default:
		t.Fatal("mosquitto: Start while it is running; Stop it first")
	}
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	for attempt := 0; attempt < 20; attempt++ {
		var proc *Process
		if proc, err = m.start(t); err == nil {
			m.proc = proc
			return
		}
		if !strings.Contains(err.Error(), "in use") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("cannot restart mosquitto: %v", err)
}

// Restart is Stop then Start: clients lose their connections, persistent
// sessions and their queued QoS 1/2 messages survive.
func (m *Mosquitto) Restart(t testing.TB) {
	t.Helper()
	m.Stop(t)
	m.Start(t)
}

// PublishOptions configures Mosquitto.Publish.
type PublishOptions struct {
	QoS                int
	Retain             bool
	Username, Password string
}

// Publish publishes payload to topic on the plain listener with
// mosquitto_pub and fails the test when that fails. With QoS 1 or 2 it
// returns once the broker acknowledged the message.
func (m *Mosquitto) Publish(t testing.TB, topic string, payload []byte, opts PublishOptions) {
	t.Helper()
	bin := RequireBinary(t, "mosquitto_pub")
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(m.port), "-t", topic, "-q", strconv.Itoa(opts.QoS), "-s"}
	if opts.Retain {
		args = append(args, "-r")
	}
	if opts.Username != "" {
		args = append(args, "-u", opts.Username, "-P", opts.Password)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub to %s: %v\n%s", topic, err, out)
	}
}

// writePasswordFile creates path with mosquitto_passwd -b, one user at a
// time in a stable order.
func writePasswordFile(t testing.TB, path string, users map[string]string) {
	t.Helper()
	bin := RequireBinary(t, "mosquitto_passwd")
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	slices.Sort(names)
	for i, u := range names {
		args := []string{"-b", path, u, users[u]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %s: %v\n%s", u, err, out)
		}
	}
}

// TestCerts are PEM files made by WriteTestCerts.
type TestCerts struct {
	// CAFile is a self-signed CA certificate that signed the others.
	CAFile string
	// CertFile and KeyFile are a server certificate for 127.0.0.1 and
	// localhost.
	CertFile, KeyFile string
	// ClientCertFile and ClientKeyFile are a client certificate.
	ClientCertFile, ClientKeyFile string
}

// WriteTestCerts generates a CA, a server certificate for 127.0.0.1 and
// localhost, and a client certificate (ECDSA P-256, valid for a day) into
// a temporary directory.
func WriteTestCerts(t testing.TB) TestCerts {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("cannot generate key: %v", err)
		}
		return k
	}
	serial := int64(1)
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"premetrics tests"}},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
		}
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatalf("cannot write %s: %v", name, err)
		}
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatalf("cannot encode key: %v", err)
		}
		return write(name, "PRIVATE KEY", der)
	}

	caKey := key()
	ca := template("premetrics test CA")
	ca.IsCA = true
	ca.BasicConstraintsValid = true
	ca.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("cannot create CA certificate: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("cannot parse CA certificate: %v", err)
	}

	issue := func(cn string, usage x509.ExtKeyUsage, k *ecdsa.PrivateKey, hosts bool) []byte {
		c := template(cn)
		c.KeyUsage = x509.KeyUsageDigitalSignature
		c.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		if hosts {
			c.DNSNames = []string{"localhost"}
			c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, c, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatalf("cannot create certificate %s: %v", cn, err)
		}
		return der
	}
	serverKey, clientKey := key(), key()
	return TestCerts{
		CAFile:         write("ca.pem", "CERTIFICATE", caDER),
		CertFile:       write("server.pem", "CERTIFICATE", issue("localhost", x509.ExtKeyUsageServerAuth, serverKey, true)),
		KeyFile:        writeKey("server-key.pem", serverKey),
		ClientCertFile: write("client.pem", "CERTIFICATE", issue("premetrics test client", x509.ExtKeyUsageClientAuth, clientKey, false)),
		ClientKeyFile:  writeKey("client-key.pem", clientKey),
	}
}
