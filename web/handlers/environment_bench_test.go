package handlers_test

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"ppportal/internal/portaltest"
	"ppportal/ppapi/simulator"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
)

func TestOverviewAtTenThousandRendersOnePage(t *testing.T) {
	_, b := envSignIn(t, portaltest.Options{Sim: envSimOpts(10_000)})
	for _, u := range []string{"/environments", "/environments?sort=capacity&dir=desc&page=7"} {
		r := b.Get(u)
		envWant200(t, r)
		if n := r.Doc().Find("[data-testid=environment-row]").Length(); n != pages.EnvironmentsPageSize {
			t.Errorf("GET %s rows = %d, want %d (one page)", u, n, pages.EnvironmentsPageSize)
		}
		if got := envAttr(r, "#environments-table", "data-matching"); got != "10000" {
			t.Errorf("GET %s matching = %q, want 10000", u, got)
		}
		if got := envTexts(r, "[data-testid=page-of]"); len(got) != 1 || got[0] != "Page "+map[bool]string{true: "1", false: "7"}[u == "/environments"]+" of 200" {
			t.Errorf("GET %s pager = %q", u, got)
		}
	}
}

// BenchmarkEnvironmentsPage measures the portal's own work on the overview:
// filter, sort, page and render a list that is already fetched, as
// listEnvironments does after ListEnvironments returns.
//
//	go test ./web/handlers -run '^$' -bench EnvironmentsPage -benchmem
func BenchmarkEnvironmentsPage(b *testing.B) {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	views := []struct {
		name string
		f    pages.EnvironmentFilter
	}{
		{"default", pages.EnvironmentFilter{}},
		{"search+sort", pages.EnvironmentFilter{Q: "sales", Sort: "capacity", Desc: true}},
	}
	for _, n := range []int{100, 1_000, 10_000} {
		envs := simulator.New(simulator.Options{Environments: n, Epoch: epoch, Now: func() time.Time { return epoch }}).Environments()
		for _, v := range views {
			b.Run(v.name+"/envs="+strconv.Itoa(n), func(b *testing.B) {
				m := layout.Meta{Title: "Environments", CSRFToken: "x", Nonce: "n"}
				b.ReportAllocs()
				for b.Loop() {
					vm := pages.NewEnvironmentsVM(envs, v.f)
					if err := pages.EnvironmentsPage(m, vm).Render(context.Background(), io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
