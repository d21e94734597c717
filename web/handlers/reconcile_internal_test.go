package handlers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ppportal/ppapi"
	"ppportal/web/views/pages"
)

func TestUpdateFound(t *testing.T) {
	both := ppapi.BillingPolicyUpdateRequest{Name: "New", Status: ppapi.BillingDisabled}
	tests := []struct {
		name             string
		req              ppapi.BillingPolicyUpdateRequest
		p                ppapi.BillingPolicy
		found            pages.ReconcileOutcome
		applied, missing []string
	}{
		{"all", both, ppapi.BillingPolicy{Name: "New", Status: ppapi.BillingDisabled}, pages.ReconcileApplied, []string{"name", "status"}, nil},
		{"none", both, ppapi.BillingPolicy{Name: "Old", Status: ppapi.BillingEnabled}, pages.ReconcileNotApplied, nil, []string{"name", "status"}},
		{"name only", both, ppapi.BillingPolicy{Name: "New", Status: ppapi.BillingEnabled}, pages.ReconcilePartlyApplied, []string{"name"}, []string{"status"}},
		{"status only", both, ppapi.BillingPolicy{Name: "Old", Status: ppapi.BillingDisabled}, pages.ReconcilePartlyApplied, []string{"status"}, []string{"name"}},
		{"one field asked, there", ppapi.BillingPolicyUpdateRequest{Status: ppapi.BillingDisabled}, ppapi.BillingPolicy{Name: "Old", Status: ppapi.BillingDisabled}, pages.ReconcileApplied, []string{"status"}, nil},
	}
	for _, tt := range tests {
		found, applied, missing := updateFound(tt.req, &tt.p)
		if found != tt.found || !cmp.Equal(applied, tt.applied) || !cmp.Equal(missing, tt.missing) {
			t.Errorf("%s: updateFound(%+v, %+v) = %s, %q, %q, want %s, %q, %q", tt.name, tt.req, tt.p, found, applied, missing, tt.found, tt.applied, tt.missing)
		}
	}
}

func TestInstallFound(t *testing.T) {
	list := []ppapi.ApplicationPackage{
		{UniqueName: "A", State: ppapi.PackageNotInstalled},
		{UniqueName: "B", State: ppapi.PackageInstallRequested},
		{UniqueName: "C", ID: "8d9f1a2b-0000-4000-8000-000000000001", State: "InstallRetrying"},
		{UniqueName: "D", State: ppapi.PackageInstallFailed},
	}
	tests := []struct {
		pkg  string
		want pages.ReconcileOutcome
	}{
		{"A", pages.ReconcileNotApplied},
		{"b", pages.ReconcileApplied},
		{"8D9F1A2B-0000-4000-8000-000000000001", pages.ReconcileApplied},
		{"D", pages.ReconcileNotApplied},
		{"missing", pages.ReconcileNotApplied},
	}
	for _, tt := range tests {
		if got := installFound(tt.pkg)(list); got != tt.want {
			t.Errorf("installFound(%q) = %s, want %s", tt.pkg, got, tt.want)
		}
	}
}

func TestCreatedPolicyPicksExactNameNewest(t *testing.T) {
	old, newer := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	list := []ppapi.BillingPolicy{
		{ID: "1", Name: "PAYG ", CreatedOn: &newer},
		{ID: "2", Name: "PAYG", CreatedOn: &old},
		{ID: "3", Name: "PAYG", CreatedOn: &newer},
		{ID: "4", Name: "payg", CreatedOn: &newer},
	}
	if p := createdPolicy(list, "PAYG"); p == nil || p.ID != "3" {
		t.Errorf("createdPolicy(PAYG) = %+v, want id 3", p)
	}
	if p := createdPolicy(list, "Other"); p != nil {
		t.Errorf("createdPolicy(Other) = %+v, want nil", p)
	}
}

func TestReadBack(t *testing.T) {
	errRead := errors.New("read failed")
	tests := []struct {
		name      string
		reads     []any // each an outcome or an error
		want      pages.ReconcileOutcome
		wantErr   error
		wantReads int
	}{
		{"applied at once", []any{pages.ReconcileApplied}, pages.ReconcileApplied, nil, 1},
		{"not applied, confirmed", []any{pages.ReconcileNotApplied, pages.ReconcileNotApplied}, pages.ReconcileNotApplied, nil, 2},
		{"shows up on the second read", []any{pages.ReconcileNotApplied, pages.ReconcileApplied}, pages.ReconcileApplied, nil, 2},
		{"first read fails", []any{errRead}, "", errRead, 1},
		{"confirming read fails: first finding stands", []any{pages.ReconcilePartlyApplied, errRead}, pages.ReconcilePartlyApplied, nil, 2},
	}
	for _, tt := range tests {
		n := 0
		read := func(context.Context) (pages.ReconcileOutcome, error) {
			if n >= len(tt.reads) {
				return "", fmt.Errorf("read %d: more reads than expected", n+1)
			}
			r := tt.reads[n]
			n++
			if err, ok := r.(error); ok {
				return "", err
			}
			return r.(pages.ReconcileOutcome), nil
		}
		_, got, err := readBack(context.Background(), read, func(o pages.ReconcileOutcome) pages.ReconcileOutcome { return o })
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || n != tt.wantReads {
			t.Errorf("%s: readBack = %s, %v after %d reads, want %s, %v after %d", tt.name, got, err, n, tt.want, tt.wantErr, tt.wantReads)
		}
	}
}

func TestAuditResultReconciled(t *testing.T) {
	cause := fmt.Errorf("lost: %w", ppapi.ErrOutcomeUnknown)
	tests := []struct {
		err  error
		want string
	}{
		{cause, "outcome_unknown"},
		{&reconciledError{err: cause, found: pages.ReconcileApplied}, "outcome_unknown, reconciled: applied"},
		{&reconciledError{err: cause, found: pages.ReconcileNotApplied}, "outcome_unknown, reconciled: not applied"},
		{&reconciledError{err: cause, found: pages.ReconcilePartlyApplied}, "outcome_unknown, reconciled: partly applied"},
	}
	for _, tt := range tests {
		if got := auditResult(tt.err); got != tt.want {
			t.Errorf("auditResult(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if !errors.Is(&reconciledError{err: cause}, ppapi.ErrOutcomeUnknown) {
		t.Errorf("a reconciledError does not unwrap to ErrOutcomeUnknown")
	}
}

func TestBulkOutcomeReconciled(t *testing.T) {
	row := func(f string) pages.BulkRow { return pages.BulkRow{EnvID: "e", StartFailure: f} }
	ok := pages.BulkRow{EnvID: "e", OpID: "op"}
	tests := []struct {
		rows []pages.BulkRow
		want string
	}{
		{[]pages.BulkRow{ok, ok}, "succeeded"},
		{[]pages.BulkRow{ok, row("unknown")}, "outcome_unknown"},
		{[]pages.BulkRow{ok, row(pages.BulkReconciledStarted)}, "outcome_unknown, reconciled: applied"},
		{[]pages.BulkRow{row(pages.BulkReconciledNotStarted)}, "outcome_unknown, reconciled: not applied"},
		{[]pages.BulkRow{row(pages.BulkReconciledStarted), row(pages.BulkReconciledNotStarted)}, "outcome_unknown, reconciled: partly applied"},
		{[]pages.BulkRow{row(pages.BulkReconciledStarted), row("unknown")}, "outcome_unknown"},
		{[]pages.BulkRow{ok, row("conflict")}, "failed: unavailable"},
	}
	for _, tt := range tests {
		if got := auditResult(bulkOutcome(tt.rows)); got != tt.want {
			t.Errorf("auditResult(bulkOutcome(%v)) = %q, want %q", tt.rows, got, tt.want)
		}
	}
}
