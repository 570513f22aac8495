package enrich

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"gopkg.in/yaml.v3"
)

// columns are the source columns a table reads: the key columns, the
// add columns, then the reference columns (the distinct columns of
// series, read as numbers).
type columns struct {
	key, add, ref []string
}

func (c columns) all() []string {
	return append(append(append([]string(nil), c.key...), c.add...), c.ref...)
}

func (c columns) len() int { return len(c.key) + len(c.add) + len(c.ref) }

// parse reads rows of format from data into b. Errors name the line
// (CSV, YAML) or the list element (JSON) at fault.
func parse(format string, data []byte, cols columns, b *builder) error {
	switch format {
	case FormatCSV:
		return parseCSV(data, cols, b)
	case FormatJSON:
		return parseJSON(bytes.NewReader(data), cols, b)
	case FormatYAML:
		return parseYAML(data, cols, b)
	}
	return fmt.Errorf("unknown format %q", format)
}

// parseCSV reads a header line naming the columns, then one row a line.
// Columns the table does not use are ignored; a key, add or reference
// column missing from the header is an error.
func parseCSV(data []byte, cols columns, b *builder) error {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a spreadsheet's byte order mark
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("empty CSV file: want a header line naming the columns")
	}
	if err != nil {
		return fmt.Errorf("cannot read CSV header: %w", err)
	}
	idx := make([]int, 0, cols.len())
	for _, name := range cols.all() {
		i := -1
		for j, h := range header {
			if h == name {
				i = j
				break
			}
		}
		if i < 0 {
			return fmt.Errorf("CSV header %q has no column %q", header, name)
		}
		idx = append(idx, i)
	}
	row := make([]string, len(idx))
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read CSV: %w", err)
		}
		for k, i := range idx {
			row[k] = rec[i]
		}
		if err := b.add(row); err != nil {
			line, _ := r.FieldPos(0)
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// parseJSON reads a JSON array of objects, streaming. Strings, numbers
// (as written) and booleans are values; null is no value. A reference
// column that no object has is an error (a misspelt column would
// otherwise emit nothing, silently).
func parseJSON(r io.Reader, cols columns, b *builder) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("cannot read JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("want a JSON array of objects, got %v first", tok)
	}
	row := make([]string, cols.len())
	seen := make([]bool, len(cols.ref))
	n := 0
	for i := 0; dec.More(); i++ {
		n++
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return fmt.Errorf("element %d: cannot decode JSON object: %w", i, err)
		}
		if obj == nil {
			return fmt.Errorf("element %d: want an object, got null", i)
		}
		if err := fillRow(row, seen, cols, func(name string) (string, bool, error) {
			v, ok := obj[name]
			if !ok {
				return "", false, nil
			}
			switch v := v.(type) {
			case string:
				return v, true, nil
			case json.Number:
				return v.String(), true, nil
			case bool:
				return strconv.FormatBool(v), true, nil
			case nil:
				return "", true, nil
			}
			return "", false, fmt.Errorf("field %q: want a string, number or boolean, got %T", name, v)
		}); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		if err := b.add(row); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("cannot read JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON array")
	}
	return missingRef(cols, seen, n, "no object has the field %q (a column of series)")
}

// missingRef reports the first reference column that none of n > 0 rows
// had (seen, per column, from fillRow).
func missingRef(cols columns, seen []bool, n int, format string) error {
	if n == 0 {
		return nil
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf(format, cols.ref[i])
		}
	}
	return nil
}

// parseYAML reads a YAML list of mappings with scalar values (taken as
// written: 007 stays "007"; null is no value). A reference column that no
// mapping has is an error, as in parseJSON.
func parseYAML(data []byte, cols columns, b *builder) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("cannot read YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // an empty file is an empty table
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: want a list of mappings", list.Line)
	}
	row := make([]string, cols.len())
	seen := make([]bool, len(cols.ref))
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: want a mapping of column: value", item.Line)
		}
		if err := fillRow(row, seen, cols, func(name string) (string, bool, error) {
			for i := 0; i+1 < len(item.Content); i += 2 {
				if item.Content[i].Value != name {
					continue
				}
				v := item.Content[i+1]
				if v.Kind != yaml.ScalarNode {
					return "", false, fmt.Errorf("%q: want a scalar value", name)
				}
				if v.Tag == "!!null" {
					return "", true, nil
				}
				return v.Value, true, nil
			}
			return "", false, nil
		}); err != nil {
			return fmt.Errorf("line %d: %w", item.Line, err)
		}
		if err := b.add(row); err != nil {
			return fmt.Errorf("line %d: %w", item.Line, err)
		}
	}
	return missingRef(cols, seen, len(list.Content), "no mapping has the column %q (a column of series)")
}

// fillRow sets row to the key, add then reference values that get
// returns. A key column must be present with a value; a missing add or
// reference column is no value. seen[i] is set when reference column i
// is present (null included).
func fillRow(row []string, seen []bool, cols columns, get func(name string) (v string, ok bool, err error)) error {
	for i, name := range cols.key {
		v, ok, err := get(name)
		if err != nil {
			return err
		}
		if !ok || v == "" {
			return fmt.Errorf("no value for key column %q", name)
		}
		row[i] = v
	}
	for i, name := range cols.add {
		v, _, err := get(name)
		if err != nil {
			return err
		}
		row[len(cols.key)+i] = v
	}
	base := len(cols.key) + len(cols.add)
	for i, name := range cols.ref {
		v, ok, err := get(name)
		if err != nil {
			return err
		}
		seen[i] = seen[i] || ok
		row[base+i] = v
	}
	return nil
}
