package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ppportal/internal/portaltest"
	"ppportal/ppapi/simulator"
)

func TestEnvironmentPage(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	main := envByName(t, env, "Contoso Sales (Prod)")
	r := b.Get("/environments/" + main.Name)
	envWant200(t, r)
	d := r.Doc()
	if got := strings.TrimSpace(d.Find("[data-testid=environment-name]").Text()); got != "Contoso Sales (Prod)" {
		t.Errorf("heading = %q, want Contoso Sales (Prod)", got)
	}
	if got := d.Find("title").Text(); !strings.HasPrefix(got, "Contoso Sales (Prod) in ") {
		t.Errorf("title = %q, want the environment first", got)
	}
	if n := d.Find("[data-testid=capacity-row] meter").Length(); n != 3 {
		t.Errorf("capacity meters = %d, want 3", n)
	}
	if strings.Contains(r.Body, "style=") {
		t.Errorf("the page has an inline style attribute, which the CSP forbids")
	}
	if n := d.Find("[data-testid=addon-row]").Length(); n == 0 {
		t.Errorf("add-on rows = 0, want some")
	}
	if got := envAttr(r, "[data-testid=link-applications]", "href"); got != "/environments/"+main.Name+"/applications" {
		t.Errorf("applications link = %q", got)
	}
	if got := envAttr(r, "[data-testid=link-delete]", "href"); got != "/environments/"+main.Name+"/delete" {
		t.Errorf("delete link = %q", got)
	}
	if d.Find("section#flow-runs-entry").Length() != 1 {
		t.Errorf("no #flow-runs-entry slot")
	}
	if d.Find("[data-testid=dataverse-version]").Length() != 1 {
		t.Errorf("no Dataverse version shown")
	}

	nodv := b.Get("/environments/" + env.Demo.Sim.NoDataverseEnvironmentID())
	envWant200(t, nodv)
	if nodv.Doc().Find("[data-testid=no-dataverse]").Length() != 1 || nodv.Doc().Find("[data-testid=link-applications]").Length() != 0 {
		t.Errorf("environment without Dataverse: want the no-Dataverse note and no applications link")
	}
}

func TestDeleteRefusedForDefaultEnvironment(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	id := env.Demo.Sim.DefaultEnvironmentID()
	r := b.Get("/environments/" + id)
	envWant200(t, r)
	if r.Doc().Find("[data-testid=link-delete]").Length() != 0 {
		t.Errorf("the default environment's page offers Delete")
	}
	if !strings.Contains(r.Doc().Find("[data-testid=delete-refused]").Text(), "default environment") {
		t.Errorf("no explanation why the default environment cannot be deleted")
	}
	r = b.Get("/environments/" + id + "/delete")
	envWant200(t, r)
	if r.Doc().Find("[data-testid=delete-form]").Length() != 0 {
		t.Errorf("the default environment's delete page has a form")
	}
	// A forged POST is refused without reaching the API.
	env.Demo.Sim.ResetCalls()
	r = b.Post("/environments/"+id+"/delete", url.Values{"csrf": {b.CSRF()}, "confirm": {"Contoso (default)"}})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("POST delete of the default environment = %d, want 403", r.StatusCode)
	}
	if n := env.Demo.Sim.Calls("deleteEnvironment"); n != 0 {
		t.Errorf("deleteEnvironment calls = %d, want 0", n)
	}
}

func TestDeleteNeedsTypedName(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	e := envByName(t, env, "Legacy Integrations")
	tok := b.CSRF()
	env.Demo.Sim.ResetCalls()
	for _, typed := range []string{"", "legacy integrations", "Legacy", "Contoso Sales (Prod)"} {
		r := b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {tok}, "confirm": {typed}})
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("POST delete confirm=%q = %d, want 422", typed, r.StatusCode)
			continue
		}
		if envAttr(r, "#confirm-name", "aria-invalid") != "true" || r.Doc().Find("[data-testid=field-error-confirm]").Length() != 1 {
			t.Errorf("POST delete confirm=%q: the field is not marked invalid with a message", typed)
		}
	}
	if n := env.Demo.Sim.Calls("deleteEnvironment"); n != 0 {
		t.Errorf("deleteEnvironment calls = %d, want 0", n)
	}
	// Without the CSRF token nothing happens either.
	r := b.Post("/environments/"+e.Name+"/delete", url.Values{"confirm": {"Legacy Integrations"}})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("POST delete without CSRF token = %d, want 403", r.StatusCode)
	}
}

func TestDeleteThroughDeletingToGone(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	e := envByName(t, env, "Legacy Integrations")
	r := b.Get("/environments/" + e.Name + "/delete")
	envWant200(t, r)
	tok := envAttr(r, "[data-testid=delete-form] input[name=csrf]", "value")
	r = b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {tok}, "confirm": {" Legacy Integrations "}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/environments/"+e.Name+"/deletion") {
		t.Fatalf("POST delete = %d Location %q, want 303 to the deletion page", r.StatusCode, r.Header.Get("Location"))
	}
	status := r.Header.Get("Location")
	page := b.Get(status)
	envWant200(t, page)
	if got := envAttr(page, "#deletion-status", "data-phase"); got != "deleting" {
		t.Fatalf("deletion page phase = %q, want deleting", got)
	}
	if envAttr(page, "#deletion-status", "hx-trigger") == "" || envAttr(page, "#deletion-status", "hx-get") != status {
		t.Errorf("the Deleting region does not poll its own URL: hx-get %q", envAttr(page, "#deletion-status", "hx-get"))
	}
	if !strings.HasPrefix(page.Doc().Find("title").Text(), "Deleting Legacy Integrations") {
		t.Errorf("title = %q", page.Doc().Find("title").Text())
	}
	var last *portaltest.Response
	for i := 0; i < 100; i++ {
		last = b.Get(status, "HX-Request", "true")
		envWant200(t, last)
		if envAttr(last, "#deletion-status", "data-phase") != "deleting" {
			break
		}
		waitStep()
	}
	if got := envAttr(last, "#deletion-status", "data-phase"); got != "gone" {
		t.Fatalf("after polling, phase = %q, want gone", got)
	}
	if _, ok := last.Doc().Find("#deletion-status").Attr("hx-trigger"); ok {
		t.Errorf("the gone state still polls")
	}
	if !strings.Contains(last.Body, "7 days") {
		t.Errorf("the gone state does not mention the 7-day recovery")
	}
	if r := b.Get("/environments/" + e.Name); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET the deleted environment = %d, want 404", r.StatusCode)
	}
	// Deleting again: the API says it is gone; the portal says so too.
	r = b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {tok}, "confirm": {"Legacy Integrations"}})
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("POST delete of a gone environment = %d, want 404 (its read fails first)", r.StatusCode)
	}
}

func TestDeleteConflict(t *testing.T) {
	env, b := envSignIn(t, envNoCache(simulator.Options{}))
	e := envByName(t, env, "Innovation Lab")
	empty := ""
	env.Demo.Sim.SetFault("deleteEnvironment", simulator.Fault{Status: http.StatusConflict, Body: &empty, Count: 1})
	r := b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {b.CSRF()}, "confirm": {"Innovation Lab"}})
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("POST delete under a 409 = %d, want 409; %.300s", r.StatusCode, r.Body)
	}
	if !strings.Contains(r.Doc().Find("[data-testid=delete-conflict]").Text(), "Another operation is running") {
		t.Errorf("the 409 page does not say another operation is running")
	}
	if r.Doc().Find("[data-testid=delete-form]").Length() != 1 {
		t.Errorf("the 409 page lost the form to try again")
	}
	if got := envAttr(r, "#confirm-name", "value"); got != "Innovation Lab" {
		t.Errorf("typed name kept as %q, want Innovation Lab", got)
	}
}

func TestDeleteAlreadyGone(t *testing.T) {
	env, b := envSignIn(t, envNoCache(simulator.Options{}))
	e := envByName(t, env, "Innovation Lab")
	empty := ""
	env.Demo.Sim.SetFault("deleteEnvironment", simulator.Fault{Status: http.StatusNoContent, Body: &empty, Count: 1})
	r := b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {b.CSRF()}, "confirm": {"Innovation Lab"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST delete answered 204 upstream = %d, want 303", r.StatusCode)
	}
	page := b.Get(r.Header.Get("Location"))
	envWant200(t, page)
	if !strings.Contains(page.Doc().Find("[data-testid=flash]").Text(), "already deleted") {
		t.Errorf("no 'already deleted' notice after a 204; flash %q", page.Doc().Find("[data-testid=flash]").Text())
	}
}

func TestDeletionPageInvalidInterval(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	e := envByName(t, env, "Innovation Lab")
	for _, q := range []string{"every=0", "every=31", "every=x"} {
		if r := b.Get("/environments/" + e.Name + "/deletion?" + q); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET deletion?%s = %d, want 400", q, r.StatusCode)
		}
	}
	r := b.Get("/environments/" + e.Name + "/deletion")
	envWant200(t, r)
	if got := envAttr(r, "#deletion-status", "data-phase"); got != "not-deleting" {
		t.Errorf("deletion page of a live environment: phase %q, want not-deleting", got)
	}
}
