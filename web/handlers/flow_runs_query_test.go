package handlers

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ppportal/ppapi"
)

const (
	testEnv = "00000000-0000-0000-0000-000000000001"
	testWF  = "00000000-0000-0000-0000-0000000000aa"
)

// TestFlowRunsQueryWalk pages forward 15 pages and back: every URL parses
// to the state it came from, previous works flowRunsBackPages pages back,
// then only the first page is offered.
func TestFlowRunsQueryWalk(t *testing.T) {
	q := flowRunsQuery{Status: "Failed", Page: 1}
	var states []flowRunsQuery
	for i := 1; i <= 15; i++ {
		states = append(states, q)
		u, _ := url.Parse(q.url(testEnv, testWF))
		got, err := parseFlowRunsQuery(u.Query())
		if err != nil {
			t.Fatalf("parse(url(page %d)) = %v", i, err)
		}
		if diff := cmp.Diff(q, got, cmp.Comparer(func(a, b []string) bool { return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b)) })); diff != "" {
			t.Fatalf("parse(url(page %d)) differs (-want +got):\n%s", i, diff)
		}
		if len(q.Back) > flowRunsBackPages {
			t.Fatalf("page %d carries %d earlier cursors, want <= %d", i, len(q.Back), flowRunsBackPages)
		}
		q = q.next("c" + strconv.Itoa(i+1))
	}
	// From page 15, previous reaches back to page 7 (8 pages), not beyond.
	q = states[14]
	steps := 0
	for {
		p, ok := q.previous()
		if !ok {
			break
		}
		steps++
		if p.Page != q.Page-1 || p.Cursor != states[p.Page-1].Cursor {
			t.Fatalf("previous of page %d = page %d cursor %q, want page %d cursor %q", q.Page, p.Page, p.Cursor, q.Page-1, states[q.Page-2].Cursor)
		}
		q = p
	}
	if steps != flowRunsBackPages || q.Page != 15-flowRunsBackPages {
		t.Errorf("previous went back %d pages to page %d, want %d to page %d", steps, q.Page, flowRunsBackPages, 15-flowRunsBackPages)
	}
	// From page 2 previous is the first page, keeping the filter.
	if p, ok := states[1].previous(); !ok || p.Page != 1 || p.Cursor != "" || p.Status != "Failed" {
		t.Errorf("previous of page 2 = %+v, %v; want the first page with the filter", p, ok)
	}
}

func TestParseFlowRunsQueryRejects(t *testing.T) {
	long := make([]byte, flowRunsMaxCursor+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, raw := range []string{
		"status=%3Cscript%3E", "page=-1", "page=x", "page=2", "cursor=abc",
		"page=2&cursor=" + string(long), "page=3&cursor=a&back=b&back=c",
		"page=20&cursor=a&back=1&back=2&back=3&back=4&back=5&back=6&back=7&back=8&back=9",
		"page=3&cursor=a&back=b%2F",
	} {
		v, _ := url.ParseQuery(raw)
		if _, err := parseFlowRunsQuery(v); err == nil {
			t.Errorf("parseFlowRunsQuery(%.60s) = nil error, want one", raw)
		}
	}
}

func TestBillingUpdateRequestSendsOnlyChanges(t *testing.T) {
	for _, c := range []struct {
		f       billingForm
		want    ppapi.BillingPolicyUpdateRequest
		changed bool
	}{
		{billingForm{Name: "A", OrigName: "A", Status: "Enabled", OrigStatus: "Enabled"}, ppapi.BillingPolicyUpdateRequest{}, false},
		{billingForm{Name: " A ", OrigName: "A", Status: "Enabled", OrigStatus: "Enabled"}, ppapi.BillingPolicyUpdateRequest{}, false},
		{billingForm{Name: "B", OrigName: "A", Status: "Enabled", OrigStatus: "Enabled"}, ppapi.BillingPolicyUpdateRequest{Name: "B"}, true},
		{billingForm{Name: "A", OrigName: "A", Status: "Disabled", OrigStatus: "Enabled"}, ppapi.BillingPolicyUpdateRequest{Status: "Disabled"}, true},
		{billingForm{Name: "B", OrigName: "A", Status: "Disabled", OrigStatus: "Enabled"}, ppapi.BillingPolicyUpdateRequest{Name: "B", Status: "Disabled"}, true},
		{billingForm{Name: "A", OrigName: "A", Status: "", OrigStatus: "Provisioning"}, ppapi.BillingPolicyUpdateRequest{}, false},
	} {
		got, changed := billingUpdateRequest(c.f)
		if diff := cmp.Diff(c.want, got); diff != "" || changed != c.changed {
			t.Errorf("billingUpdateRequest(%+v) = %+v, %v, want %+v, %v", c.f, got, changed, c.want, c.changed)
		}
	}
}

func TestCreatedPolicyFor(t *testing.T) {
	id := "11111111-2222-4333-8444-555555555555"
	recent := []string{"tokB " + id, "tokA 22222222-2222-4333-8444-555555555555", "tokC not-a-guid"}
	for tok, want := range map[string]string{"tokB": id, "tokA": "22222222-2222-4333-8444-555555555555", "tokC": "", "tokD": "", "": ""} {
		if got := createdPolicyFor(recent, tok); got != want {
			t.Errorf("createdPolicyFor(%q) = %q, want %q", tok, got, want)
		}
	}
}
