package handlers

import (
	"strings"
	"testing"

	"ppportal/web/views/pages"
)

func TestEnvironmentsCSVDefusesFormulas(t *testing.T) {
	rows := []pages.EnvironmentRow{
		{ID: "a", Name: "=HYPERLINK(\"http://evil\")", CreatedBy: "+1", Domain: "-2", SKU: "@SUM(A1)"},
		{ID: "b", Name: "\tTab", Region: "plain"},
	}
	b, err := environmentsCSV(rows)
	if err != nil {
		t.Fatalf("environmentsCSV: %v", err)
	}
	out := string(b)
	for _, want := range []string{`"'=HYPERLINK(""http://evil"")"`, ",'+1,", ",'-2,", ",'@SUM(A1),", "'\tTab", ",plain,"} {
		if !strings.Contains(out, want) {
			t.Errorf("environmentsCSV(...) = %q, want it to contain %q", out, want)
		}
	}
	for _, bad := range []string{",=", ",+1", ",-2", ",@"} {
		if strings.Contains(out, bad) {
			t.Errorf("environmentsCSV(...) has a live formula cell %q", bad)
		}
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{"": "", "x": "x", "=1": "'=1", "+1": "'+1", "-1": "'-1", "@a": "'@a", "\rx": "'\rx", "a=b": "a=b"} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
