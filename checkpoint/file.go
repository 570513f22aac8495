package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// File names in the checkpoint directory.
const (
	StateFile   = "state"
	EmittedFile = "emitted"
)

const (
	magic = "PMCKPT\x00\x01"

	kindSection = 'A'
	kindData    = 'D'
	kindMark    = 'W'
	kindEnd     = 'E'

	// maxFrame bounds a frame's length when reading, so a corrupt length
	// cannot make Read allocate without limit.
	maxFrame = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Fingerprint identifies an aggregation's definition.
type Fingerprint [32]byte

// Writer writes one checkpoint file. Nothing replaces the old file until
// Commit; Abort (or a failed Commit) removes the temporary file.
type Writer struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	frames    uint64
	hdr       []byte
	err       error
}

// Create starts writing file name in dir, creating dir if needed.
func Create(dir, name string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create checkpoint directory: %w", err)
	}
	f, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create checkpoint file: %w", err)
	}
	w := &Writer{path: filepath.Join(dir, name), tmp: f.Name(), f: f, w: bufio.NewWriterSize(f, 1<<20)}
	_, w.err = w.w.WriteString(magic)
	return w, w.err
}

// Section begins the section of aggregation name.
func (w *Writer) Section(name string, fp Fingerprint) error {
	p := binary.AppendUvarint(nil, uint64(len(name)))
	p = append(p, name...)
	p = append(p, fp[:]...)
	return w.frame(kindSection, p)
}

// Data appends a data frame to the current section. The Writer does not
// keep payload.
func (w *Writer) Data(payload []byte) error { return w.frame(kindData, payload) }

// Mark appends a watermark frame (the emitted file).
func (w *Writer) Mark(name string, watermark int64) error {
	p := binary.AppendUvarint(nil, uint64(len(name)))
	p = append(p, name...)
	p = binary.LittleEndian.AppendUint64(p, uint64(watermark))
	return w.frame(kindMark, p)
}

func (w *Writer) frame(kind byte, payload []byte) error {
	if w.err != nil {
		return w.err
	}
	w.hdr = append(w.hdr[:0], kind)
	w.hdr = binary.AppendUvarint(w.hdr, uint64(len(payload)))
	crc := crc32.Update(crc32.Update(0, castagnoli, w.hdr), castagnoli, payload)
	w.write(w.hdr)
	w.write(payload)
	w.write(binary.LittleEndian.AppendUint32(w.hdr[:0], crc))
	w.frames++
	return w.err
}

func (w *Writer) write(p []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(p)
	}
}

// Commit ends the file, syncs it and renames it over the previous one.
func (w *Writer) Commit() error {
	n := w.frames
	w.frame(kindEnd, binary.LittleEndian.AppendUint64(nil, n))
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err == nil {
		w.err = w.f.Sync()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if w.err == nil {
		w.err = os.Rename(w.tmp, w.path)
	}
	if w.err == nil {
		w.err = syncDir(filepath.Dir(w.path))
	}
	if w.err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("cannot write checkpoint %s: %w", w.path, w.err)
	}
	return nil
}

// Path returns the path of the file once committed.
func (w *Writer) Path() string { return w.path }

// Abort discards the file being written.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.tmp)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Section is one aggregation's part of a state file.
type Section struct {
	Name        string
	Fingerprint Fingerprint
	Data        [][]byte // the data frames' payloads, in order
}

// Contents is what Read found in a file.
type Contents struct {
	Sections []Section
	Marks    map[string]int64 // the emitted file's watermarks by aggregation
}

// ErrNotExist is returned by Read when there is no such file (a first
// start).
var ErrNotExist = os.ErrNotExist

// Read reads and verifies file name in dir. A missing file is
// ErrNotExist; any damage (bad magic, CRC mismatch, truncation, unknown
// frame) is an error naming the offset.
func Read(dir, name string) (*Contents, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	c, err := parse(raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", filepath.Join(dir, name), err)
	}
	return c, nil
}

func parse(raw []byte) (*Contents, error) {
	if !bytes.HasPrefix(raw, []byte(magic[:7])) {
		return nil, errors.New("not a checkpoint file (bad magic)")
	}
	if len(raw) < len(magic) || raw[7] != magic[7] {
		return nil, fmt.Errorf("unsupported checkpoint version %d", raw[min(7, len(raw)-1)])
	}
	c := &Contents{Marks: map[string]int64{}}
	off := len(magic)
	var frames uint64
	for {
		if off >= len(raw) {
			return nil, fmt.Errorf("truncated at offset %d: no end frame", off)
		}
		start := off
		kind := raw[off]
		n, k := binary.Uvarint(raw[off+1:])
		if k <= 0 || n > maxFrame || uint64(len(raw)-off-1-k) < n+4 {
			return nil, fmt.Errorf("truncated or corrupt frame at offset %d", start)
		}
		body := off + 1 + k
		payload := raw[body : body+int(n)]
		want := binary.LittleEndian.Uint32(raw[body+int(n):])
		if crc32.Checksum(raw[start:body+int(n)], castagnoli) != want {
			return nil, fmt.Errorf("checksum mismatch in frame at offset %d", start)
		}
		off = body + int(n) + 4
		switch kind {
		case kindEnd:
			if len(payload) != 8 || binary.LittleEndian.Uint64(payload) != frames {
				return nil, fmt.Errorf("end frame at offset %d does not match the %d frames read", start, frames)
			}
			if off != len(raw) {
				return nil, fmt.Errorf("%d bytes after the end frame", len(raw)-off)
			}
			return c, nil
		case kindSection:
			name, rest, err := readName(payload)
			if err != nil || len(rest) != len(Fingerprint{}) {
				return nil, fmt.Errorf("bad section frame at offset %d", start)
			}
			s := Section{Name: name}
			copy(s.Fingerprint[:], rest)
			c.Sections = append(c.Sections, s)
		case kindData:
			if len(c.Sections) == 0 {
				return nil, fmt.Errorf("data frame at offset %d outside a section", start)
			}
			s := &c.Sections[len(c.Sections)-1]
			s.Data = append(s.Data, payload)
		case kindMark:
			name, rest, err := readName(payload)
			if err != nil || len(rest) != 8 {
				return nil, fmt.Errorf("bad watermark frame at offset %d", start)
			}
			c.Marks[name] = int64(binary.LittleEndian.Uint64(rest))
		default:
			return nil, fmt.Errorf("unknown frame kind %q at offset %d", kind, start)
		}
		frames++
	}
}

func readName(p []byte) (string, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return "", nil, io.ErrUnexpectedEOF
	}
	return string(p[k : k+int(n)]), p[k+int(n):], nil
}
