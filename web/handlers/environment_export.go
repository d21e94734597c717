package handlers

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"ppportal/web/views/pages"
)

// exportEnvironments is /environments.csv: every environment matching the
// overview's filter (all pages), in the overview's order.
func (h *Handlers) exportEnvironments(c echo.Context) error {
	f, err := parseEnvironmentFilter(c.QueryParams())
	if err != nil {
		return err
	}
	f.Page = 0
	envs, err := h.api.ListEnvironments(c.Request().Context(), listExpand)
	if err != nil {
		return err
	}
	if err := checkSKUKnown(f.SKU, envs); err != nil {
		return err
	}
	body, err := environmentsCSV(h.envIndexes.index(envs, h.now()).Match(f))
	if err != nil {
		return err
	}
	name := "environments-" + h.now().UTC().Format("20060102-1504") + ".csv"
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", body)
}

// environmentsCSV writes the rows with a header line. Every cell is
// defused against formula injection.
func environmentsCSV(rows []pages.EnvironmentRow) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"id", "name", "type", "region", "location", "provisioningState", "runtimeState",
		"managementState", "dataverse", "dataverseVersion", "instanceUrl", "domain", "createdBy", "createdTime",
		"databaseMB", "fileMB", "logMB", "default"})
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, r := range rows {
		created := ""
		if !r.Created.IsZero() {
			created = r.Created.UTC().Format(time.RFC3339)
		}
		rec := []string{r.ID, r.Name, r.SKU, r.Region, r.Location, r.Provisioning, r.Runtime, r.Management,
			yesNo(r.HasDataverse), r.DataverseVersion, r.InstanceURL, r.Domain, r.CreatedBy, created,
			num(r.DatabaseMB), num(r.FileMB), num(r.LogMB), yesNo(r.IsDefault)}
		for i := range rec {
			rec[i] = csvSafe(rec[i])
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvSafe stops a spreadsheet from reading a cell as a formula (CSV
// injection): a cell starting with =, +, -, @, tab or carriage return gets
// a leading apostrophe, which spreadsheets show as text.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
