package pages

import (
	"bytes"
	"context"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

func renderDoc(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("Render: %v", err)
	}
	d, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return d
}

func TestFlowRunsEntryErrorIsNextToTheField(t *testing.T) {
	vm := FlowRunsEntryVM{EnvID: "e", Action: "/environments/e/flows", Value: `<script>x</script>`, Error: "Enter a GUID."}
	d := renderDoc(t, FlowRunsEntry(vm))
	in := d.Find("#flow-runs-workflow-id")
	if v, _ := in.Attr("value"); v != vm.Value {
		t.Errorf("input value = %q, want %q", v, vm.Value)
	}
	if v, _ := in.Attr("aria-describedby"); v != "flow-runs-workflow-id-hint flow-runs-workflow-id-error" {
		t.Errorf("aria-describedby = %q", v)
	}
	if got := d.Find("#flow-runs-workflow-id-error[data-testid=field-error-workflowId]").Text(); got != vm.Error {
		t.Errorf("error text = %q, want %q", got, vm.Error)
	}
	if d.Find("script").Length() != 0 {
		t.Errorf("the kept input was not escaped")
	}
	if n := d.Find("[data-testid=recent-workflows]").Length(); n != 0 {
		t.Errorf("recent list shown without recent workflows")
	}
}

func TestFlowRunsTableStatusTextAndTrigger(t *testing.T) {
	vm := FlowRunsVM{SelfURL: "/x", Page: 1, OnPage: 2, Rows: []FlowRunRow{
		{Name: "a", Status: "Running", Tone: FlowRunTone("Running")},
		{Name: "b", Status: "Exploded", Tone: FlowRunTone("Exploded")},
	}}
	for _, refresh := range []bool{true, false} {
		vm.Refresh = refresh
		d := renderDoc(t, FlowRunsTable(vm))
		_, has := d.Find("#flow-runs-table").Attr("hx-trigger")
		if has != refresh {
			t.Errorf("FlowRunsTable(Refresh=%v) has trigger %v", refresh, has)
		}
		var texts []string
		d.Find("[data-testid=flow-run-status]").Each(func(_ int, s *goquery.Selection) { texts = append(texts, s.Text()) })
		if len(texts) != 2 || texts[0] != "Running" || texts[1] != "Exploded" {
			t.Errorf("status texts = %v, want [Running Exploded]", texts)
		}
		if cls, _ := d.Find("[data-testid=flow-run-status]").Last().Attr("class"); cls != "badge neutral" {
			t.Errorf("unknown status class = %q, want badge neutral", cls)
		}
	}
}
