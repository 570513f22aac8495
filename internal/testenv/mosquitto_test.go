package testenv

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// subscribeOnce runs mosquitto_sub for one message on topic and returns
// it; args are extra flags (credentials, TLS).
func subscribeOnce(t *testing.T, port int, topic string, args ...string) (string, error) {
	t.Helper()
	bin := RequireBinary(t, "mosquitto_sub")
	all := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", topic, "-C", "1", "-W", "10"}, args...)
	out, err := exec.Command(bin, all...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestMosquittoUsersAndRestartKeepsRetained(t *testing.T) {
	m := StartMosquitto(t, MosquittoOptions{Users: map[string]string{"alice": "s3cret", "bob": "other"}})
	if !strings.HasPrefix(m.URL(), "tcp://127.0.0.1:") || m.TLSURL() != "" {
		t.Fatalf("URL = %q, TLSURL = %q", m.URL(), m.TLSURL())
	}
	m.Publish(t, "t/retained", []byte("hello"), PublishOptions{QoS: 1, Retain: true, Username: "alice", Password: "s3cret"})

	// A wrong password and an anonymous client are refused.
	if out, err := subscribeOnce(t, m.Port(), "t/#", "-u", "alice", "-P", "wrong"); err == nil {
		t.Fatalf("wrong password accepted: %s", out)
	}
	if out, err := subscribeOnce(t, m.Port(), "t/#"); err == nil {
		t.Fatalf("anonymous client accepted: %s", out)
	}

	// The retained message survives a restart: persistence is on.
	m.Restart(t)
	got, err := subscribeOnce(t, m.Port(), "t/retained", "-u", "bob", "-P", "other")
	if err != nil || got != "hello" {
		t.Fatalf("after restart: got %q, %v; want the retained hello", got, err)
	}
}

func TestMosquittoTLS(t *testing.T) {
	certs := WriteTestCerts(t)
	m := StartMosquitto(t, MosquittoOptions{TLS: &MosquittoTLS{CAFile: certs.CAFile, CertFile: certs.CertFile, KeyFile: certs.KeyFile}})
	if !strings.HasPrefix(m.TLSURL(), "ssl://127.0.0.1:") {
		t.Fatalf("TLSURL = %q", m.TLSURL())
	}
	port, _ := strconv.Atoi(m.TLSURL()[strings.LastIndexByte(m.TLSURL(), ':')+1:])

	done := make(chan struct{})
	var got string
	var subErr error
	go func() {
		defer close(done)
		got, subErr = subscribeOnce(t, port, "secure/x", "--cafile", certs.CAFile)
	}()
	// Publish until the subscriber is there (it subscribes asynchronously).
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.Publish(t, "secure/x", []byte("over tls"), PublishOptions{})
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("TLS subscriber got nothing")
		}
		break
	}
	if subErr != nil || got != "over tls" {
		t.Fatalf("TLS subscriber: got %q, %v", got, subErr)
	}

	// A client that does not trust the CA fails the handshake.
	if out, err := subscribeOnce(t, port, "secure/x", "--capath", t.TempDir()); err == nil {
		t.Fatalf("client without the CA connected: %s", out)
	}
}
