package pages

import (
	"net/url"
	"strconv"
	"strings"
)

// EnvironmentsPageSize is how many rows one page of the overview shows.
const EnvironmentsPageSize = 50

// MaxSearchLen bounds free-text search (overview, catalog).
const MaxSearchLen = 200

// EnvironmentSortColumns are the overview's sortable columns, in table
// order; the first is the default.
var EnvironmentSortColumns = []string{"name", "sku", "region", "state", "dataverse", "created", "capacity"}

// EnvironmentFilter is the whole state of the overview: search, filters,
// sort and page. The handler parses it from the query; URL writes it back
// as the one canonical URL, so a filtered view is a link.
type EnvironmentFilter struct {
	// Q is free text matched against name, id and Dataverse domain.
	Q string
	// SKU is an environment type ("" for all).
	SKU string
	// Region matches the Azure region or the geography ("" for all).
	Region string
	// State matches the provisioning, runtime or management state.
	State string
	// Dataverse is "", "yes" or "no".
	Dataverse string
	// Sort is a column of EnvironmentSortColumns; "" means name.
	Sort string
	// Desc sorts descending.
	Desc bool
	// Page is 1-based; 0 means 1.
	Page int
}

// SortKey is the effective sort column.
func (f EnvironmentFilter) SortKey() string {
	if f.Sort == "" {
		return EnvironmentSortColumns[0]
	}
	return f.Sort
}

// PageNum is the effective page number.
func (f EnvironmentFilter) PageNum() int {
	if f.Page < 1 {
		return 1
	}
	return f.Page
}

// Filtering reports whether any filter or search narrows the list.
func (f EnvironmentFilter) Filtering() bool {
	return f.Q != "" || f.SKU != "" || f.Region != "" || f.State != "" || f.Dataverse != ""
}

// RawQuery is the canonical query string: fixed parameter order, defaults
// left out, values escaped.
func (f EnvironmentFilter) RawQuery() string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	add("q", f.Q)
	add("sku", f.SKU)
	add("region", f.Region)
	add("state", f.State)
	add("dataverse", f.Dataverse)
	if s := f.SortKey(); s != EnvironmentSortColumns[0] || f.Desc {
		add("sort", s)
	}
	if f.Desc {
		add("dir", "desc")
	}
	if f.PageNum() > 1 {
		add("page", strconv.Itoa(f.PageNum()))
	}
	return b.String()
}

// FilterQuery is the canonical query of the filters alone (no sort or
// page), for links that carry the selection elsewhere (bulk install).
func (f EnvironmentFilter) FilterQuery() string {
	return EnvironmentFilter{Q: f.Q, SKU: f.SKU, Region: f.Region, State: f.State, Dataverse: f.Dataverse}.RawQuery()
}

func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	return path + "?" + q
}

// URL is the canonical URL of the view.
func (f EnvironmentFilter) URL() string { return withQuery("/environments", f.RawQuery()) }

// CSVURL is the export of the same view (all matching rows).
func (f EnvironmentFilter) CSVURL() string {
	g := f
	g.Page = 0
	return withQuery("/environments.csv", g.RawQuery())
}

// WithSort is the view sorted by col: ascending, or flipped when col is
// already the sort column. It returns to page 1.
func (f EnvironmentFilter) WithSort(col string) EnvironmentFilter {
	g := f
	g.Page = 0
	if f.SortKey() == col {
		g.Desc = !f.Desc
	} else {
		g.Sort, g.Desc = col, false
	}
	if g.Sort == EnvironmentSortColumns[0] {
		g.Sort = ""
	}
	return g
}

// WithPage is the view at page n.
func (f EnvironmentFilter) WithPage(n int) EnvironmentFilter {
	g := f
	g.Page = n
	return g
}
