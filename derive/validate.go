package derive

import (
	"errors"
	"fmt"
)

// Validate reports every problem of c, joined with errors.Join, one per
// line, each starting with the field path relative to the entry
// (`expr: ...`); the caller prefixes `derive[i].`.
func (c *Config) Validate() error {
	var errs []error
	if c.Record == "" {
		errs = append(errs, fmt.Errorf("record: must not be empty"))
	}
	if c.Expr == "" {
		errs = append(errs, fmt.Errorf("expr: must not be empty"))
	}
	return errors.Join(errs...)
}
