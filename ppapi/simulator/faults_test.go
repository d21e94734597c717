package simulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"ppportal/ppapi/simulator"
)

// get sends one GET with a fresh connection and returns what a plain
// http.Client sees.
func (f *fixture) get(ctx context.Context, target string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", f.srv.URL+target, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer t")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaults(t *testing.T) {
	const target = bap + bapV
	flat := `{"code":"UnexpectedError","message":"An unexpected error occurred."}`
	empty := ""
	tests := []struct {
		name  string
		fault simulator.Fault
		check func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{"status envelope with Retry-After", simulator.Fault{Kind: simulator.FaultStatus, Status: 429, RetryAfter: "7"}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || !strings.Contains(string(body), `"code":"TooManyRequests"`) {
				t.Errorf("got %v %v %q %s, want 429, Retry-After 7, TooManyRequests envelope", err, status(resp), resp.Header.Get("Retry-After"), body)
			}
		}},
		{"status flat body", simulator.Fault{Kind: simulator.FaultStatus, Status: 503, Body: &flat}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 503 || string(body) != flat {
				t.Errorf("got %v %v %s, want 503 with the flat body", err, status(resp), body)
			}
		}},
		{"status empty body, default 500", simulator.Fault{Kind: simulator.FaultStatus, Body: &empty}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 500 || len(body) != 0 || resp.Header.Get("Retry-After") != "" {
				t.Errorf("got %v %v %q, want 500, empty body, no Retry-After", err, status(resp), body)
			}
		}},
		{"reset", simulator.Fault{Kind: simulator.FaultReset}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err == nil {
				t.Errorf("got %v, want a connection error", status(resp))
			}
		}},
		{"reset after request", simulator.Fault{Kind: simulator.FaultResetAfterRequest}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err == nil {
				t.Errorf("got %v, want a connection error", status(resp))
			}
		}},
		{"truncate", simulator.Fault{Kind: simulator.FaultTruncate}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got err %v, want io.ErrUnexpectedEOF while reading the body", err)
			}
		}},
		{"malformed JSON", simulator.Fault{Kind: simulator.FaultMalformedJSON}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || json.Valid(body) {
				t.Errorf("got %v %v %s, want 200 with invalid JSON", err, status(resp), body)
			}
		}},
		{"oversize", simulator.Fault{Kind: simulator.FaultOversize}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || len(body) < simulator.OversizeBytes-(1<<17) || len(body) > simulator.OversizeBytes || !json.Valid(body) {
				t.Errorf("got %v %v with %d bytes, want 200 with ~%d bytes of JSON", err, status(resp), len(body), simulator.OversizeBytes)
			}
		}},
		{"slow body arrives whole", simulator.Fault{Kind: simulator.FaultSlowBody, Delay: time.Microsecond}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || !json.Valid(body) || !strings.Contains(string(body), `"value"`) {
				t.Errorf("got %v %v %.100s, want the whole list", err, status(resp), body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, simulator.Options{Seed: 5})
			f.sim.SetFault("listEnvironments", tt.fault)
			resp, body, err := f.get(context.Background(), target)
			tt.check(t, resp, body, err)
			if got := f.sim.Calls("listEnvironments"); got != 1 {
				t.Errorf("Calls = %d, want 1 (a faulted request counts)", got)
			}
			// Other operations are untouched.
			if resp, _, err := f.get(context.Background(), "/licensing/billingPolicies"+ppV); err != nil || resp.StatusCode != 200 {
				t.Errorf("other operation: %v %v, want 200", err, status(resp))
			}
		})
	}
}

func status(r *http.Response) any {
	if r == nil {
		return "no response"
	}
	return r.StatusCode
}

func TestFaultHang(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5})
	f.sim.SetFault("", simulator.Fault{Kind: simulator.FaultHang})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := f.get(ctx, bap+bapV)
		done <- err
	}()
	// The request is held until its context ends.
	for f.sim.Calls("listEnvironments") == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("hanging request returned early: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("hanging request error = %v, want context.Canceled", err)
	}
	// ClearFaults frees the held ones; then requests are answered again.
	go func() {
		resp, _, err := f.get(context.Background(), bap+bapV)
		if err == nil && resp.StatusCode != 200 {
			err = errors.New(resp.Status)
		}
		done <- err
	}()
	for f.sim.Calls("listEnvironments") < 2 {
		time.Sleep(time.Millisecond)
	}
	f.sim.ClearFaults()
	if err := <-done; err == nil {
		t.Errorf("request freed by ClearFaults got a 200, want a connection error")
	}
	if resp, _, err := f.get(context.Background(), bap+bapV); err != nil || resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: %v %v, want 200", err, status(resp))
	}
}

func TestFaultSlowBodyTimesOut(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5})
	f.sim.SetFault("listEnvironments", simulator.Fault{Kind: simulator.FaultSlowBody, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := f.get(ctx, bap+bapV)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow body error = %v, want context.DeadlineExceeded while reading", err)
	}
}

func TestFaultCountAndPrecedence(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5})
	f.sim.SetFault("", simulator.Fault{Kind: simulator.FaultStatus, Status: 503})
	f.sim.SetFault("listEnvironments", simulator.Fault{Kind: simulator.FaultStatus, Status: 429, Count: 2})
	var got []int
	for i := 0; i < 3; i++ {
		resp, _, err := f.get(context.Background(), bap+bapV)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.StatusCode)
	}
	want := []int{429, 429, 503}
	if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("statuses = %v, want %v (own fault twice, then the global one)", got, want)
	}
	f.sim.ClearFaults()
	if resp, _, err := f.get(context.Background(), bap+bapV); err != nil || resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: %v %v, want 200", err, status(resp))
	}
}

// A request reset after it was read was still processed: the install
// happened, so replaying it meets 409.
func TestFaultResetAfterRequestProcesses(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5})
	env := f.sim.MainEnvironmentID()
	target := f.srv.URL + "/appmanagement/environments/" + env + "/applicationPackages/" + f.sim.FailingPackage() + "/install" + ppV
	f.sim.SetFault("installApplicationPackage", simulator.Fault{Kind: simulator.FaultResetAfterRequest, Count: 1})
	req, _ := http.NewRequest("POST", target, strings.NewReader(`{"payloadValue":"x"}`))
	req.Header.Set("Authorization", "Bearer t")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("install through reset: %d, want a connection error", resp.StatusCode)
	}
	f.want(f.do("POST", target, ""), 409, "replayed install")
	if got := f.sim.Calls("installApplicationPackage"); got != 2 {
		t.Errorf("Calls(install) = %d, want 2", got)
	}
}
