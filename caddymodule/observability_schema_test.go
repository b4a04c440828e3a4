package caddymodule

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// strictDashboard decodes a dashboard with Grafana's own schema (the
// foundation SDK's types are generated from it): required fields present,
// no unknown field anywhere, panels' options by their panel type.
func strictDashboard(raw []byte) error {
	// The classic (v1) dashboard JSON every Grafana imports; the SDK marks
	// its type deprecated in favour of the v2 resource format.
	//lint:ignore SA1019 the file is the classic JSON model, which Grafana imports
	var d dashboard.Dashboard
	if err := d.UnmarshalJSONStrict(raw); err != nil {
		// The SDK returns its error list typed even when empty.
		var be cog.BuildErrors
		if !errors.As(err, &be) || len(be) > 0 {
			return err
		}
	}
	return d.Validate()
}

// TestObservabilityDashboardSchema: the dashboard follows Grafana's
// dashboard schema (Grafana itself cannot run where the tests run), and
// the check would catch a field Grafana does not know.
func TestObservabilityDashboardSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile("../examples/observability/frontdoor-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := strictDashboard(raw); err != nil {
		t.Fatalf("the dashboard does not follow Grafana's schema: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["panels"].([]any)[1].(map[string]any)["options"].(map[string]any)["colourMode"] = "value"
	bad, _ := json.Marshal(m)
	if strictDashboard(bad) == nil {
		t.Fatal("a misspelt panel option passed the schema check")
	}
}
