package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jackc/pgx/v5"
)

// source fetches a table's rows. fetch is called by one goroutine at a
// time. unchanged reports that the rows are those of the last table it
// returned (nothing to rebuild); that is a successful refresh.
type source interface {
	fetch(ctx context.Context, newBuilder func() *builder) (t *Table, unchanged bool, err error)
}

func newSource(c *Config, cols columns, client *http.Client) source {
	switch {
	case c.Source.File != nil:
		return &fileSource{path: c.Source.File.Path, format: c.Source.File.format(), cols: cols}
	case c.Source.HTTP != nil:
		h := c.Source.HTTP
		return &httpSource{url: h.URL, headers: h.Headers, timeout: orDefault(h.Timeout, DefaultTimeout), cols: cols, client: client}
	case c.Source.Postgres != nil:
		p := c.Source.Postgres
		return &pgSource{dsn: p.DSN, query: p.Query, timeout: orDefault(p.Timeout, DefaultTimeout), cols: cols}
	}
	panic("enrich: config without a source; Validate first")
}

// fileSource re-reads a file when its modification time or size
// changed, and rebuilds the table when its content changed.
type fileSource struct {
	path   string
	format string
	cols   columns

	stat    fileStat // of the last attempt
	lastErr error    // of the last attempt
	tried   bool
	hash    uint64 // content of the last table
	hasHash bool
}

type fileStat struct {
	mod  time.Time
	size int64
}

func (f *fileSource) fetch(_ context.Context, newBuilder func() *builder) (*Table, bool, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		f.tried, f.lastErr = false, err
		return nil, false, fmt.Errorf("cannot read %s: %w", f.path, err)
	}
	st := fileStat{mod: fi.ModTime(), size: fi.Size()}
	if f.tried && st == f.stat {
		return nil, true, f.lastErr // the same file as last time: the same outcome
	}
	t, unchanged, err := f.read(st, newBuilder)
	f.tried, f.stat, f.lastErr = true, st, err
	return t, unchanged, err
}

func (f *fileSource) read(st fileStat, newBuilder func() *builder) (*Table, bool, error) {
	if st.size > MaxSourceBytes {
		return nil, false, fmt.Errorf("cannot load %s: %d bytes, more than %d", f.path, st.size, MaxSourceBytes)
	}
	data, err := readLimited(f.path)
	if err != nil {
		return nil, false, err
	}
	h := xxhash.Sum64(data)
	if f.hasHash && h == f.hash {
		return nil, true, nil // touched, not changed
	}
	b := newBuilder()
	if err := parse(f.format, data, f.cols, b); err != nil {
		return nil, false, fmt.Errorf("cannot load %s: %w", f.path, err)
	}
	t, err := b.finish(time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("cannot load %s: %w", f.path, err)
	}
	f.hash, f.hasHash = h, true
	return t, false, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxSourceBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(data) > MaxSourceBytes {
		return nil, fmt.Errorf("cannot load %s: more than %d bytes", path, MaxSourceBytes)
	}
	return data, nil
}

// httpSource GETs a JSON array of objects.
type httpSource struct {
	url     string
	headers map[string]string
	timeout time.Duration
	cols    columns
	client  *http.Client

	hash    uint64
	hasHash bool
}

func (h *httpSource) fetch(ctx context.Context, newBuilder func() *builder) (*Table, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return nil, false, fmt.Errorf("cannot request %s: %w", h.url, err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("cannot fetch: %w", err) // the error names the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, false, fmt.Errorf("cannot fetch %s: %s: %s", h.url, resp.Status, strings.TrimSpace(string(msg)))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxSourceBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("cannot read the response of %s: %w", h.url, err)
	}
	if len(data) > MaxSourceBytes {
		return nil, false, fmt.Errorf("cannot load %s: response larger than %d bytes", h.url, MaxSourceBytes)
	}
	sum := xxhash.Sum64(data)
	if h.hasHash && sum == h.hash {
		return nil, true, nil
	}
	b := newBuilder()
	if err := parse(FormatJSON, data, h.cols, b); err != nil {
		return nil, false, fmt.Errorf("cannot load %s: %w", h.url, err)
	}
	t, err := b.finish(time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("cannot load %s: %w", h.url, err)
	}
	h.hash, h.hasHash = sum, true
	return t, false, nil
}

// pgSource runs a query on a connection of its own per refresh. Result
// columns are matched by name (use AS); every value is read in
// PostgreSQL's text form, NULL is no value.
type pgSource struct {
	dsn     string
	query   string
	timeout time.Duration
	cols    columns
}

func (p *pgSource) fetch(ctx context.Context, newBuilder func() *builder) (*Table, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.dsn)
	if err != nil {
		return nil, false, fmt.Errorf("cannot connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, p.query, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, false, fmt.Errorf("cannot run query: %w", err)
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	var idx []int
	for _, name := range p.cols.all() {
		i := -1
		for j, f := range fields {
			if f.Name == name {
				i = j
				break
			}
		}
		if i < 0 {
			names := make([]string, len(fields))
			for j, f := range fields {
				names[j] = f.Name
			}
			return nil, false, fmt.Errorf("query result has no column %q (columns: %q); name it with AS", name, names)
		}
		idx = append(idx, i)
	}
	b := newBuilder()
	row := make([]string, len(idx))
	for n := 1; rows.Next(); n++ {
		raw := rows.RawValues()
		for k, i := range idx {
			row[k] = string(raw[i]) // NULL is nil: ""
		}
		if err := b.add(row); err != nil {
			return nil, false, fmt.Errorf("query result row %d: %w", n, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("cannot read query result: %w", err)
	}
	t, err := b.finish(time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("query result: %w", err)
	}
	return t, false, nil
}

// errNoSnapshot is the startup error of a required table.
var errNoSnapshot = errors.New("no snapshot could be loaded")
