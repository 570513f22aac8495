package fleet

import (
	"encoding/csv"
	"fmt"
	"io"
)

// WriteRegistry writes the vehicle registry as CSV with a header:
// vehicle_id,model,region — the reference table the enrichment stage
// joins on vehicle_id.
func (f *Fleet) WriteRegistry(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{LabelVehicleID, LabelModel, LabelRegion}); err != nil {
		return fmt.Errorf("cannot write registry: %w", err)
	}
	for _, v := range f.vehicles {
		if err := cw.Write([]string{v.ID, v.Model, v.Region}); err != nil {
			return fmt.Errorf("cannot write registry: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("cannot write registry: %w", err)
	}
	return nil
}
