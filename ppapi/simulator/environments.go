package simulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"ppportal/ppapi"
)

const (
	expandCapacity = 1 << iota
	expandAddons
)

// parseExpand reads $expand; both the dot form of the spec and the slash
// form the real service also takes are understood.
func parseExpand(q url.Values) int {
	bits := 0
	for _, part := range strings.Split(q.Get("$expand"), ",") {
		switch strings.ToLower(strings.TrimSpace(strings.ReplaceAll(part, "/", "."))) {
		case "properties.capacity":
			bits |= expandCapacity
		case "properties.addons":
			bits |= expandAddons
		}
	}
	return bits
}

// envView builds the wire form of an environment.
func (s *Simulator) envView(e *envRec, bits int) ppapi.Environment {
	p := ppapi.EnvironmentProperties{
		TenantID:          s.tenantID,
		AzureRegion:       e.region,
		DisplayName:       e.name,
		Description:       e.description,
		CreatedTime:       timePtr(e.created),
		LastModifiedTime:  timePtr(e.modified),
		ProvisioningState: e.provisioning,
		CreationType:      e.creationType,
		EnvironmentSKU:    e.sku,
		IsDefault:         e.isDefault,
		ClientURIs: &ppapi.ClientURIs{
			Admin: "https://admin.powerplatform.microsoft.com/environments/environmentsettings/" + e.id,
			Maker: "https://make.powerapps.com/environments/" + e.id + "/home",
		},
		RuntimeEndpoints: map[string]string{
			"microsoft.BusinessAppPlatform": "https://" + e.location + ".api.bap.microsoft.com",
			"microsoft.CommonDataModel":     "https://" + e.location + ".api.cds.microsoft.com",
			"microsoft.PowerApps":           "https://" + e.location + ".api.powerapps.com",
			"microsoft.Flow":                "https://" + e.location + ".api.flow.microsoft.com",
			"microsoft.PowerAppsAdvisor":    "https://" + e.location + ".api.advisor.powerapps.com",
			"microsoft.ApiManagement":       "https://management." + e.location + ".azure-apihub.net",
		},
		RetentionPeriod:  "P7D",
		States:           &ppapi.EnvironmentStates{Management: &ppapi.IDValue{ID: e.mgmtState}, Runtime: &ppapi.IDValue{ID: e.runtimeState}},
		UpdateCadence:    &ppapi.IDValue{ID: e.cadence},
		ProtectionStatus: &ppapi.ProtectionStatus{KeyManagedBy: e.keyManagedBy},
	}
	if e.creator >= 0 {
		u := s.users[e.creator]
		p.CreatedBy = &ppapi.Principal{ID: u.id, DisplayName: strPtr(u.name), Type: "User", TenantID: strPtr(s.tenantID), UserPrincipalName: u.upn}
	} else {
		// The real service says id "SYSTEM" here; the spec wants a uuid,
		// so the platform appears as an application principal.
		p.CreatedBy = &ppapi.Principal{ID: s.g.guid("platform", 0), DisplayName: strPtr("Microsoft Power Platform"), Type: "Application", TenantID: strPtr(s.tenantID)}
	}
	if e.dataverse {
		p.DatabaseType = strPtr("CommonDataService")
		suffix := crmSuffix[e.location]
		if suffix == "" {
			suffix = "crm"
		}
		p.LinkedEnvironmentMetadata = &ppapi.LinkedEnvironmentMetadata{
			ResourceID:                s.g.guid("dv", uint64(max(e.idx, 0))),
			FriendlyName:              e.name,
			UniqueName:                "unq" + strings.ReplaceAll(s.g.guid("dvu", uint64(max(e.idx, 0))), "-", ""),
			DomainName:                e.domain,
			Version:                   e.dvVersion,
			InstanceURL:               "https://" + e.domain + "." + suffix + ".dynamics.com/",
			InstanceAPIURL:            "https://" + e.domain + ".api." + suffix + ".dynamics.com",
			BaseLanguage:              1033,
			InstanceState:             "Ready",
			CreatedTime:               timePtr(e.created),
			BackgroundOperationsState: "Enabled",
			ScaleGroup:                "SG" + strings.ToUpper(e.location[:3]) + strconv.Itoa(100+e.idx%900),
			PlatformSKU:               "Standard",
		}
		if e.provisioning == ppapi.ProvisioningInProgress {
			p.LinkedEnvironmentMetadata.InstanceState = "NotReady"
		}
	} else {
		// The spec's spelling; the real service says "None" (REAL-API.md §14).
		p.DatabaseType = strPtr("none")
	}
	if bits&expandCapacity != 0 {
		updated := timePtr(s.epoch.Add(-3 * 3600e9))
		for i, typ := range []string{"Database", "File", "Log"} {
			p.Capacity = append(p.Capacity, ppapi.CapacityInfo{
				CapacityType: typ, ActualConsumption: e.capacity[i], RatedConsumption: e.capacity[i],
				CapacityUnit: "MB", UpdatedOn: updated,
			})
		}
	}
	if bits&expandAddons != 0 {
		p.Addons = append([]ppapi.AddonInfo(nil), e.addons...)
	}
	if e.isDefault {
		p.LifecycleOperationsEnforcement = &ppapi.LifecycleOperationsEnforcement{
			AllowedOperations:    []ppapi.LifecycleOperationRule{{Type: ppapi.IDValue{ID: "Backup"}}, {Type: ppapi.IDValue{ID: "Edit"}}},
			DisallowedOperations: []ppapi.LifecycleOperationRule{{Type: ppapi.IDValue{ID: "Delete"}}},
		}
		d := &p.LifecycleOperationsEnforcement.DisallowedOperations[0]
		d.Reason = &struct {
			Type    string `json:"type,omitempty"`
			Message string `json:"message,omitempty"`
		}{Type: "EnvironmentSkuType", Message: "The default environment cannot be deleted."}
	}
	if !e.deleteStarted.IsZero() {
		p.ProvisioningState = ppapi.ProvisioningDeleting
		p.LastModifiedTime = timePtr(e.deleteStarted.Truncate(1e9))
		p.OngoingOperation = &ppapi.OngoingOperation{ID: e.deleteOpID, Type: &ppapi.IDValue{ID: "Delete"}}
	}
	return ppapi.Environment{
		ID:         envsPath + "/" + e.id,
		Type:       "Microsoft.BusinessAppPlatform/scopes/environments",
		Location:   e.location,
		Name:       e.id,
		Properties: p,
	}
}

// envJSON is the cached wire form of an environment. Callers hold s.mu.
func (s *Simulator) envJSON(e *envRec, bits int) []byte {
	if b := e.cache[bits]; b != nil {
		return b
	}
	b, err := json.Marshal(s.envView(e, bits))
	if err != nil {
		b = []byte("{}")
	}
	e.cache[bits] = b
	return b
}

// lookupEnv validates a path environment id and finds the environment;
// it writes 400 or 404 itself and returns nil then. Callers hold s.mu and
// have settled.
func (s *Simulator) lookupEnv(w http.ResponseWriter, raw string) *envRec {
	id, err := url.PathUnescape(raw)
	if err != nil || !isEnvironmentID(id) {
		writeError(w, http.StatusBadRequest, "InvalidEnvironmentId", "The environment id '"+sanitize(raw)+"' is not valid: it must be a GUID or Default-<GUID>.")
		return nil
	}
	e := s.envByKey[strings.ToLower(id)]
	if e == nil {
		writeError(w, http.StatusNotFound, "EnvironmentNotFound", "The environment '"+id+"' could not be found in the tenant '"+s.tenantID+"'.")
		return nil
	}
	return e
}

func (s *Simulator) listEnvironments(w http.ResponseWriter, req *request) {
	q := req.r.URL.Query()
	bits := parseExpand(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(req.now)
	off, end, ok := s.page(w, q, len(s.envs), 0)
	if !ok {
		return
	}
	n := 256
	for i := off; i < end; i++ {
		n += len(s.envJSON(s.envs[i], bits)) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, n))
	buf.WriteString(`{"value":[`)
	for i := off; i < end; i++ {
		if i > off {
			buf.WriteByte(',')
		}
		buf.Write(s.envJSON(s.envs[i], bits))
	}
	buf.WriteByte(']')
	if end < len(s.envs) {
		link, _ := json.Marshal(nextLink(req, []string{"$expand"}, end))
		buf.WriteString(`,"@odata.nextLink":`)
		buf.Write(link)
	}
	buf.WriteByte('}')
	writeRaw(w, http.StatusOK, buf.Bytes())
}

func (s *Simulator) getEnvironment(w http.ResponseWriter, req *request) {
	bits := parseExpand(req.r.URL.Query())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(req.now)
	e := s.lookupEnv(w, req.args[0])
	if e == nil {
		return
	}
	writeRaw(w, http.StatusOK, s.envJSON(e, bits))
}

// deleteEnvironment starts a delete: 202 with Location (the environment's
// GET URL, which reads Deleting for two steps and then 404) and
// Retry-After. Deviations, each chosen to stay inside the spec:
//   - a delete of an environment that is already gone answers 404, not the
//     real service's 204 (REAL-API.md §7.3), because the spec declares 404
//     and no 204 for this operation; clients handle both;
//   - the default environment answers 400 (as the real service refuses
//     it); the spec declares no 400 here;
//   - while another operation runs on the environment (an install, or
//     this delete still in its Deleting window) the answer is 409 with an
//     empty body, as the real BAP sends it.
//
// No request body is required: the spec defines none, though the real
// service wants {"code","message"}.
func (s *Simulator) deleteEnvironment(w http.ResponseWriter, req *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(req.now)
	e := s.lookupEnv(w, req.args[0])
	if e == nil {
		return
	}
	if e.isDefault {
		writeError(w, http.StatusBadRequest, "EnvironmentDeleteNotAllowed", "The default environment '"+e.id+"' cannot be deleted.")
		return
	}
	if s.busy(e, req.now) {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusConflict)
		return
	}
	e.deleteStarted = req.now
	e.deleteOpID = s.nextID("lifecycle")
	e.cache = [4][]byte{}
	w.Header().Set("Location", baseURL(req.r)+envsPath+"/"+e.id+"?api-version="+url.QueryEscape(req.apiVersion))
	w.Header().Set("Retry-After", s.retryAfter())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// baseURL is scheme://host of the request, for Location and nextLink.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// nextLink is the absolute URL of the page at off: the request's path and
// api-version, the listed query parameters, and a $skiptoken.
func nextLink(req *request, keep []string, off int) string {
	q := req.r.URL.Query()
	var b strings.Builder
	b.WriteString(baseURL(req.r))
	b.WriteString(req.r.URL.EscapedPath())
	b.WriteString("?api-version=")
	b.WriteString(url.QueryEscape(req.apiVersion))
	for _, k := range keep {
		if v := q.Get(k); v != "" {
			b.WriteString("&" + k + "=" + url.QueryEscape(v))
		}
	}
	b.WriteString("&$skiptoken=")
	b.WriteString(base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(off))))
	return b.String()
}

// page reads $skiptoken and returns the slice [off, end) to answer, at
// most PageSize long (or limit, when positive and smaller). It writes 400
// for a token it did not issue.
func (s *Simulator) page(w http.ResponseWriter, q url.Values, total, limit int) (off, end int, ok bool) {
	size := s.pageSize
	if limit > 0 && limit < size {
		size = limit
	}
	if tok := q.Get("$skiptoken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		n := -1
		if err == nil && bytes.HasPrefix(raw, []byte("o:")) {
			if v, err := strconv.Atoi(string(raw[2:])); err == nil && v >= 0 && v <= 1<<30 {
				n = v
			}
		}
		if n < 0 {
			writeError(w, http.StatusBadRequest, "InvalidSkipToken", "The $skiptoken is not valid.")
			return 0, 0, false
		}
		off = n
	}
	if off > total {
		off = total
	}
	end = off + size
	if end > total {
		end = total
	}
	return off, end, true
}
