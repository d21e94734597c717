package handlers_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/web/views/paths"
)

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// auditRecords returns the admin-action records in the captured log.
func auditRecords(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"audit":true`) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit line is not JSON: %v: %s", err, line)
		}
		out = append(out, rec)
	}
	return out
}

// TestEveryAdminActionIsAudited performs each of the six admin actions once
// and expects exactly one audit record per action, with who, what, the
// result and the upstream ids; and no token-shaped string anywhere in the
// logs (SECURITY.md G12).
func TestEveryAdminActionIsAudited(t *testing.T) {
	var logs syncBuffer
	env := portaltest.Start(t, portaltest.Options{Settings: func(s *portal.Settings) {
		s.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	}})
	b := env.NewBrowser(t)
	b.SignIn("/environments", envAdmin)
	sim := env.Demo.Sim

	// Install one package.
	target := sim.MainEnvironmentID()
	pkg := notInstalled(t, b, target, "")
	action, vals := installForm(t, b, target, pkg)
	if r := b.Post(action, vals); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("install: %s", r)
	}
	// Bulk install into two environments.
	ids := []string{envByName(t, env, "Contoso Sales (Test)").Name, envByName(t, env, "Contoso HR (Prod)").Name}
	r := b.Get("/bulk/installs/new?pkg=CreatorKitCore&env=" + ids[0] + "&env=" + ids[1])
	once := envAttr(r, "[data-testid=bulk-form] input[name=once]", "value")
	if r := b.Post("/bulk/installs", url.Values{"csrf": {b.CSRF()}, "once": {once}, "pkg": {"CreatorKitCore"}, "env": ids}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("bulk install: %s", r)
	}
	// Create, update and delete a billing policy.
	if r := b.Post(paths.BillingPolicies, newForm(t, b)); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create policy: %s; %.300s", r, r.Body)
	}
	id := policyID(t, b, "Fabrikam PAYG")
	edit := editForm(t, b, id)
	edit.Set("name", "Fabrikam PAYG renamed")
	if r := b.Post(paths.BillingPolicyEdit(id), edit); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("update policy: %s", r)
	}
	if r := b.Post(paths.BillingPolicyDelete(id), url.Values{"csrf": {b.CSRF()}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete policy: %s", r)
	}
	// Delete an environment.
	e := envByName(t, env, "Innovation Lab")
	if r := b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {b.CSRF()}, "confirm": {"Innovation Lab"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete environment: %s", r)
	}

	recs := auditRecords(t, logs.String())
	want := map[string]int{
		"application.install": 1, "application.bulk_install": 1, "billing_policy.create": 1,
		"billing_policy.update": 1, "billing_policy.delete": 1, "environment.delete": 1,
	}
	got := map[string]int{}
	for _, rec := range recs {
		action, _ := rec["action"].(string)
		got[action]++
		for _, field := range []string{"at", "tid", "oid", "upn", "target", "result", "request_id", "upstream_request_ids", "upstream_correlation_ids"} {
			if v, _ := rec[field].(string); v == "" {
				t.Errorf("audit record of %s has no %s: %v", action, field, rec)
			}
		}
		if rec["result"] != "succeeded" {
			t.Errorf("audit record of %s: result %v, want succeeded", action, rec["result"])
		}
		if rec["tid"] != sim.TenantID() || rec["upn"] != envAdmin {
			t.Errorf("audit record of %s names tid %v upn %v", action, rec["tid"], rec["upn"])
		}
	}
	for a, n := range want {
		if got[a] != n {
			t.Errorf("%d audit records of %s, want %d", got[a], a, n)
		}
	}
	if len(recs) != len(want) {
		t.Errorf("%d audit records, want %d (one per admin action)", len(recs), len(want))
	}
	if m := jwtShape.FindString(logs.String()); m != "" {
		t.Errorf("a JWT-shaped string is in the logs: %.40s...", m)
	}
}
