package handlers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"ppportal/ppapi/simulator"
)

func TestGeographiesMatchTheSimulator(t *testing.T) {
	ids := make([]string, 0, len(geographies))
	for _, g := range geographies {
		ids = append(ids, g.ID)
	}
	if diff := cmp.Diff(simulator.Locations, ids); diff != "" {
		t.Errorf("geographies = %v, want simulator.Locations %v (-want +got):\n%s", ids, simulator.Locations, diff)
	}
}
