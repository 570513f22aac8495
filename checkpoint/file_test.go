package checkpoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir string) []byte {
	t.Helper()
	w, err := Create(dir, StateFile)
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint{1, 2, 3}
	if err := w.Section("gauges", fp); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"header", "", strings.Repeat("x", 300)} {
		if err := w.Data([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Section("counters", Fingerprint{9}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir)
	c, err := Read(dir, StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sections) != 2 || c.Sections[0].Name != "gauges" || c.Sections[1].Name != "counters" {
		t.Fatalf("sections %+v", c.Sections)
	}
	s := c.Sections[0]
	if s.Fingerprint != (Fingerprint{1, 2, 3}) || len(s.Data) != 3 || string(s.Data[0]) != "header" || len(s.Data[1]) != 0 || len(s.Data[2]) != 300 {
		t.Errorf("section %q: fingerprint %x, %d frames", s.Name, s.Fingerprint[:3], len(s.Data))
	}
	if len(c.Sections[1].Data) != 0 {
		t.Errorf("empty section has %d frames", len(c.Sections[1].Data))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestMarks(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, EmittedFile)
	if err != nil {
		t.Fatal(err)
	}
	w.Mark("a", -5)
	w.Mark("b", 1<<50)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	c, err := Read(dir, EmittedFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.Marks["a"] != -5 || c.Marks["b"] != 1<<50 || len(c.Marks) != 2 {
		t.Errorf("marks %v", c.Marks)
	}
}

// Every way a file can be damaged is detected, not half-read.
func TestDamageIsDetected(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir)
	cases := map[string][]byte{
		"empty":     {},
		"magic":     append([]byte("XXCKPT\x00\x01"), good[8:]...),
		"version":   append(append([]byte{}, good[:7]...), append([]byte{9}, good[8:]...)...),
		"no end":    good[:len(good)-13],
		"cut frame": good[:len(good)/2],
		"trailing":  append(bytes.Clone(good), 0),
	}
	for i := 8; i < len(good); i += 37 { // a flipped bit anywhere
		b := bytes.Clone(good)
		b[i] ^= 0x10
		cases["bit "+string(rune('a'+i%26))+string(rune('0'+i/26%10))] = b
	}
	// A whole frame removed keeps every CRC valid: the end frame's count
	// catches it.
	cases["frame removed"] = removeFirstDataFrame(t, good)
	for name, raw := range cases {
		if err := os.WriteFile(filepath.Join(dir, "bad"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(dir, "bad"); err == nil {
			t.Errorf("%s: damaged file read without error", name)
		}
	}
	if _, err := Read(dir, "missing"); !errors.Is(err, ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func removeFirstDataFrame(t *testing.T, raw []byte) []byte {
	t.Helper()
	// magic, then the section frame: kind, len (1 byte: short), payload, crc.
	off := 8
	off += 1 + 1 + int(raw[off+1]) + 4
	if raw[off] != kindData {
		t.Fatalf("expected a data frame at %d", off)
	}
	end := off + 1 + 1 + int(raw[off+1]) + 4
	return append(bytes.Clone(raw[:off]), raw[end:]...)
}

// A failed write leaves the previous file in place.
func TestAbortKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir)
	w, err := Create(dir, StateFile)
	if err != nil {
		t.Fatal(err)
	}
	w.Section("x", Fingerprint{})
	w.Abort()
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil || !bytes.Equal(raw, good) {
		t.Errorf("previous checkpoint changed by an aborted write (err %v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
