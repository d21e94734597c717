package handlers

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"ppportal/web/views/pages"
)

var (
	skuToken    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,39}$`)
	regionToken = regexp.MustCompile(`^[a-z0-9]{1,40}$`)
	stateToken  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,39}$`)
)

// maxPage bounds the page number; a larger one is clamped to the last
// page anyway.
const maxPage = 1_000_000

// parseEnvironmentFilter reads the overview's query into the typed filter.
// Values that only differ in spelling (case, page=0, dataverse=true) are
// normalised; the caller then redirects to the canonical URL. Values that
// cannot mean anything are a 400 that says what was wrong. Only the first
// of repeated parameters counts; unknown parameters are dropped.
func parseEnvironmentFilter(q url.Values) (pages.EnvironmentFilter, error) {
	var f pages.EnvironmentFilter
	var err error
	if f.Q, err = parseSearch(q.Get("q")); err != nil {
		return f, err
	}
	if s := strings.TrimSpace(q.Get("sku")); s != "" {
		if !skuToken.MatchString(s) {
			return f, badInput("the environment type (sku) must be a word such as Production or Sandbox")
		}
		f.SKU = canonicalWord(s, pages.KnownSKUs)
	}
	if s := strings.ToLower(strings.TrimSpace(q.Get("region"))); s != "" {
		if !regionToken.MatchString(s) {
			return f, badInput("the region must be an Azure region or geography name such as westeurope or europe (letters and digits only)")
		}
		f.Region = s
	}
	if s := strings.TrimSpace(q.Get("state")); s != "" {
		if !stateToken.MatchString(s) {
			return f, badInput("the state must be a word such as Succeeded, Enabled or Deleting")
		}
		f.State = canonicalWord(s, pages.KnownStates)
	}
	switch s := strings.ToLower(strings.TrimSpace(q.Get("dataverse"))); s {
	case "":
	case "yes", "true", "1", "with":
		f.Dataverse = "yes"
	case "no", "false", "0", "without":
		f.Dataverse = "no"
	default:
		return f, badInput("dataverse must be yes or no")
	}
	if s := strings.ToLower(strings.TrimSpace(q.Get("sort"))); s != "" {
		if !slices.Contains(pages.EnvironmentSortColumns, s) {
			return f, badInput("the overview cannot be sorted by " + strconv.Quote(truncate(q.Get("sort"), 40)) +
				"; the sortable columns are " + strings.Join(pages.EnvironmentSortColumns, ", "))
		}
		if s != pages.EnvironmentSortColumns[0] {
			f.Sort = s
		}
	}
	switch s := strings.ToLower(strings.TrimSpace(q.Get("dir"))); s {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		return f, badInput("the sort direction (dir) must be asc or desc")
	}
	if s := strings.TrimSpace(q.Get("page")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return f, badInput("the page must be a whole number")
		}
		f.Page = min(max(n, 1), maxPage)
		if f.Page == 1 {
			f.Page = 0
		}
	}
	return f, nil
}

// parseSearch checks free-text search: bounded, valid UTF-8, no control
// characters; surrounding space is dropped.
func parseSearch(s string) (string, error) {
	if len(s) > 4*pages.MaxSearchLen || utf8.RuneCountInString(s) > pages.MaxSearchLen {
		return "", badInput("the search text is longer than " + strconv.Itoa(pages.MaxSearchLen) + " characters")
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return "", badInput("the search text contains characters that cannot be searched for")
	}
	return strings.TrimSpace(s), nil
}

// canonicalWord returns the known spelling of s (compared without case),
// or s itself for a value the portal does not know: enumerations are open.
func canonicalWord(s string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, s) {
			return k
		}
	}
	return s
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
