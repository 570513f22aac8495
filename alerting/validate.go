package alerting

import (
	"errors"
	"fmt"
)

// Validate reports every problem of c that needs no knowledge of the
// pipeline, joined with errors.Join, one per line, each starting with the
// field path relative to the section (`groups[0].rules[1].expr: ...`);
// the caller prefixes `alerting.`.
func (c *Config) Validate() error {
	var errs []error
	for i, g := range c.Groups {
		if g.Name == "" {
			errs = append(errs, fmt.Errorf("groups[%d].name: must not be empty", i))
		}
	}
	return errors.Join(errs...)
}
