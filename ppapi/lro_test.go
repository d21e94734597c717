package ppapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDeleteEnvironmentAnswers(t *testing.T) {
	loc := "https://europe.bap.example/providers/Microsoft.BusinessAppPlatform/lifecycleOperations/" + opGUID + "?api-version=2023-06-01"
	tests := []struct {
		name  string
		reply reply
		want  *Accepted
	}{
		{"202 regional", reply{status: 202, header: map[string]string{"Location": loc, "Retry-After": "30"}},
			&Accepted{Status: 202, Location: loc, OperationID: opGUID, RetryAfter: 30 * time.Second}},
		{"204 already gone", reply{status: 204}, &Accepted{Status: 204}},
		{"202 relative Location", reply{status: 202, header: map[string]string{"Location": "/providers/x/lifecycleOperations/not-a-guid"}},
			&Accepted{Status: 202, Location: testBAP + "/providers/x/lifecycleOperations/not-a-guid"}},
		{"202 without Location", reply{status: 202}, &Accepted{Status: 202}},
	}
	for _, tt := range tests {
		c, f := newFake(t, []reply{tt.reply}, WithAllowedHosts("*.bap.example"))
		got, err := c.DeleteEnvironment(context.Background(), envGUID)
		if err != nil {
			t.Errorf("%s: DeleteEnvironment() error = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: DeleteEnvironment() mismatch (-want +got):\n%s", tt.name, diff)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("%s: %d requests, want 1", tt.name, n)
		}
	}
}

func TestDeleteEnvironmentConflictEmptyBody(t *testing.T) {
	c, _ := newFake(t, []reply{{status: 409}})
	_, err := c.DeleteEnvironment(context.Background(), envGUID)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrConflict) || e.Code != "" {
		t.Errorf("DeleteEnvironment() error = %v, want ErrConflict with no code", err)
	}
}

func TestInstallOperationID(t *testing.T) {
	opURL := testUnified + "/appmanagement/environments/" + envGUID + "/operations/" + opGUID
	tests := []struct {
		name  string
		reply reply
		want  *Accepted
	}{
		{"Location", reply{status: 202, header: map[string]string{"Location": opURL, "Retry-After": "5"}},
			&Accepted{Status: 202, Location: opURL, OperationID: opGUID, RetryAfter: 5 * time.Second}},
		{"Operation-Location", reply{status: 202, header: map[string]string{"Operation-Location": opURL + "?api-version=1"}},
			&Accepted{Status: 202, Location: opURL + "?api-version=1", OperationID: opGUID}},
		{"200 with lastOperation", reply{status: 200, body: `{"id":"x","lastOperation":{"state":"InstallRequested","operationId":"` + opGUID + `"}}`},
			&Accepted{Status: 200, OperationID: opGUID}},
		{"Location without GUID falls back to body", reply{status: 202, header: map[string]string{"Location": testUnified + "/ops/latest"}, body: `{"lastOperation":{"operationId":"` + opGUID + `"}}`},
			&Accepted{Status: 202, Location: testUnified + "/ops/latest", OperationID: opGUID}},
		{"bad body operation id ignored", reply{status: 202, body: `{"lastOperation":{"operationId":"../x"}}`},
			&Accepted{Status: 202}},
		{"non-JSON body ignored", reply{status: 202, body: `accepted`}, &Accepted{Status: 202}},
	}
	for _, tt := range tests {
		c, _ := newFake(t, []reply{tt.reply})
		got, err := c.InstallApplicationPackage(context.Background(), envGUID, "MicrosoftFormsPro")
		if err != nil {
			t.Errorf("%s: InstallApplicationPackage() error = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: InstallApplicationPackage() mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestForeignLocation: a 202 whose status URL is on a foreign host is
// refused, and the foreign host is never contacted.
func TestForeignLocation(t *testing.T) {
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
	}))
	defer foreign.Close()
	var hits atomic.Int32
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Operation-Location", foreign.URL+"/appmanagement/environments/"+envGUID+"/operations/"+opGUID)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer home.Close()
	c, err := New(WithUnifiedURL(home.URL), WithBAPURL(home.URL), WithHTTPClient(home.Client()),
		WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "t", nil })))
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	acc, err := c.InstallApplicationPackage(context.Background(), envGUID, "Pkg")
	if acc != nil || !errors.Is(err, ErrForeignHost) || !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("InstallApplicationPackage() = %v, %v; want nil, ErrForeignHost and ErrOutcomeUnknown", acc, err)
	}
	if hits.Load() != 1 {
		t.Errorf("home host saw %d requests, want 1", hits.Load())
	}
	if foreignHits.Load() != 0 {
		t.Errorf("foreign host saw %d requests, want 0", foreignHits.Load())
	}

	// Same rule for an environment delete without the regional allow-list.
	fc, f := newFake(t, []reply{{status: 202, header: map[string]string{"Location": "https://europe.bap.example/op/" + opGUID}}})
	if _, err := fc.DeleteEnvironment(context.Background(), envGUID); !errors.Is(err, ErrForeignHost) || !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("DeleteEnvironment() with a regional Location, no allow-list: error = %v, want ErrForeignHost", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestWaitForInstall(t *testing.T) {
	status := func(s string) reply { return ok(`{"operationId":"` + opGUID + `","status":"` + s + `"}`) }
	c, f := newFake(t, []reply{status("NotStarted"), {status: 409}, status("Running"), status("Cancelled")})
	st, err := c.WaitForInstall(context.Background(), envGUID, opGUID, 5*time.Second)
	if err != nil || st.Status != OperationCancelled {
		t.Fatalf("WaitForInstall() = %v, %v; want Cancelled, nil", st, err)
	}
	if diff := cmp.Diff([]time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}, f.sleeps); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
	if n := len(f.requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestWaitForInstallStops(t *testing.T) {
	// A 404 ends the wait with the last status seen.
	c, _ := newFake(t, []reply{ok(`{"status":"Running"}`), {status: 404}})
	st, err := c.WaitForInstall(context.Background(), envGUID, opGUID, 0)
	if !errors.Is(err, ErrNotFound) || st == nil || st.Status != OperationRunning {
		t.Errorf("WaitForInstall() = %v, %v; want last status Running and ErrNotFound", st, err)
	}

	// Cancellation while waiting.
	ctx, cancel := context.WithCancel(context.Background())
	c, f := newFake(t, []reply{ok(`{"status":"Running"}`)})
	f.onRequest = func(int, *http.Request) { cancel() }
	st, err = c.WaitForInstall(ctx, envGUID, opGUID, 0)
	if !errors.Is(err, context.Canceled) || st == nil {
		t.Errorf("WaitForInstall() after cancel = %v, %v; want last status and context.Canceled", st, err)
	}
}

func TestPollInterval(t *testing.T) {
	tests := map[time.Duration]time.Duration{
		-time.Second:     DefaultPollInterval,
		0:                DefaultPollInterval,
		time.Millisecond: time.Second,
		5 * time.Second:  5 * time.Second,
		30 * time.Second: 30 * time.Second,
		time.Hour:        30 * time.Second,
	}
	for in, want := range tests {
		if got := PollInterval(in); got != want {
			t.Errorf("PollInterval(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestFlowRuns204(t *testing.T) {
	c, _ := newFake(t, []reply{{status: 204}})
	p, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, "")
	if err != nil || !p.NoContent || p.Next != "" || len(p.Runs) != 0 {
		t.Errorf("ListFlowRuns() = %+v, %v; want NoContent, nil", p, err)
	}
}

func TestFlowRunsCursor(t *testing.T) {
	next := testUnified + "/powerautomate/environments/" + envGUID + "/flowRuns?workflowId=" + flowGUID + "&api-version=2022-03-01-preview&$skiptoken=abc%2Fdef"
	c, f := newFake(t, []reply{
		ok(fmt.Sprintf(`{"value":[{"name":"r1"}],"@odata.nextLink":%q}`, next)),
		ok(`{"value":[{"name":"r2"}]}`),
	})
	p1, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, "")
	if err != nil || p1.Next == "" {
		t.Fatalf("ListFlowRuns() page 1 = %+v, %v; want a Next cursor", p1, err)
	}
	p2, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, p1.Next)
	if err != nil || len(p2.Runs) != 1 || p2.Runs[0].Name != "r2" || p2.Next != "" {
		t.Fatalf("ListFlowRuns() page 2 = %+v, %v; want r2, last page", p2, err)
	}
	if got := f.requests()[1].url; got != next {
		t.Errorf("page 2 URL = %s, want %s", got, next)
	}

	// The cursor is bound to its environment and workflow, and to the
	// flowRuns path.
	other := "11111111-2222-4333-8444-555555555555"
	for name, call := range map[string]func(*Client) error{
		"other environment": func(c *Client) error {
			_, err := c.ListFlowRuns(context.Background(), other, flowGUID, p1.Next)
			return err
		},
		"other workflow": func(c *Client) error {
			_, err := c.ListFlowRuns(context.Background(), envGUID, other, p1.Next)
			return err
		},
		"garbage": func(c *Client) error {
			_, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, "!!!")
			return err
		},
		"absolute URL": func(c *Client) error {
			_, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, base64RawURL("https://evil.example/powerautomate/environments/"+envGUID+"/flowRuns"))
			return err
		},
		"scheme-relative": func(c *Client) error {
			_, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, base64RawURL("//evil.example/powerautomate/environments/"+envGUID+"/flowRuns"))
			return err
		},
		"other path": func(c *Client) error {
			_, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, base64RawURL("/licensing/billingPolicies?x=1"))
			return err
		},
		"dot segments": func(c *Client) error {
			_, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, base64RawURL("/powerautomate/environments/"+envGUID+"/flowRuns/../../x"))
			return err
		},
	} {
		c, f := newFake(t, nil)
		if err := call(c); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%s: ListFlowRuns() error = %v, want ErrInvalidID", name, err)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("%s: %d requests, want 0", name, n)
		}
	}
}

func TestFlowRunsNextLinkRefused(t *testing.T) {
	for link, want := range map[string]error{
		"https://evil.example/powerautomate/environments/" + envGUID + "/flowRuns?x": ErrForeignHost,
		testUnified + "/licensing/billingPolicies":                                   ErrBadResponse,
	} {
		c, _ := newFake(t, []reply{ok(fmt.Sprintf(`{"value":[],"@odata.nextLink":%q}`, link))})
		if _, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, ""); !errors.Is(err, want) {
			t.Errorf("nextLink %s: error = %v, want %v", link, err, want)
		}
	}
}
