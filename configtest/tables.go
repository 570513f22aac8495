package configtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/enrich"
)

// loadTables loads the config's enrichment tables once for the suite, the
// way the daemon joins them: a table the test file gives rows for
// (`tables:`) is built from those rows, any other must be a file source
// and is read from it. An HTTP or PostgreSQL table without rows is an
// error: a unit test reaches no server. Reference series are not emitted
// (they follow the wall clock, not the test's).
func loadTables(cfg *config.Config, rows map[string][]map[string]any) ([]*enrich.Enricher, error) {
	for name := range rows {
		found := false
		for _, ec := range cfg.Enrich {
			found = found || ec.Name == name
		}
		if !found {
			return nil, fmt.Errorf("tables.%s: the config has no enrich table of this name", name)
		}
	}
	var out []*enrich.Enricher
	for i, ec := range cfg.Enrich {
		given, ok := rows[ec.Name]
		switch {
		case ok:
			path, cleanup, err := rowsFile(given)
			if err != nil {
				return nil, fmt.Errorf("tables.%s: %w", ec.Name, err)
			}
			defer cleanup()
			ec.Source = enrich.Source{File: &enrich.FileSource{Path: path, Format: enrich.FormatJSON}}
		case ec.Source.File == nil:
			return nil, fmt.Errorf("enrich[%d] %q: premetrics test reads only file tables; give its rows in the test file: tables: {%s: [{column: value, ...}, ...]}", i, ec.Name, ec.Name)
		}
		e, err := enrich.New(ec, enrich.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, fmt.Errorf("enrich[%d]: %w", i, err)
		}
		if err := e.Refresh(context.Background()); err != nil {
			return nil, fmt.Errorf("enrich[%d] %q: %w", i, ec.Name, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// rowsFile writes rows as a JSON table file and returns its path and a
// function that removes it.
func rowsFile(rows []map[string]any) (string, func(), error) {
	data, err := json.Marshal(rows)
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "premetrics-test-table-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "rows.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}
