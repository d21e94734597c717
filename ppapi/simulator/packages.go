package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ppportal/ppapi"
)

const installErrCode = "PackageInstallFailed"

func installErrMessage(p *pkgRec) string {
	return "Installation of '" + p.uniqueName + "' failed: the solution import reported a missing dependency (msdyn_AnchorSolution 9.0 or later is required)."
}

// maxBody bounds every request body the simulator reads.
const maxBody = 1 << 20

// tenantPackage is the tenant catalog form of a package: no state, as the
// real catalog has none (REAL-API.md §7.4).
func (p *pkgRec) tenantView() ppapi.ApplicationPackage {
	return ppapi.ApplicationPackage{
		ID: p.id, UniqueName: p.uniqueName, Version: p.version,
		LocalizedName: strPtr(p.name), LocalizedDescription: strPtr(p.description),
		ApplicationVisibility: p.visibility, PublisherName: p.publisher,
		LearnMoreURL: "https://go.microsoft.com/fwlink/?linkid=" + p.id[:8],
	}
}

// pkgStateIn is a package's state in an environment: what installs made
// of it, else a seeded default. The main environment carries the failing
// package's earlier failure. Callers hold s.mu.
func (s *Simulator) pkgStateIn(e *envRec, p *pkgRec) pkgState {
	if st, ok := s.pkgStates[e.key][p.idx]; ok {
		return st
	}
	if p.fails {
		if e.idx == mainEnvIdx {
			return pkgState{state: ppapi.PackageInstallFailed, lastErr: &ppapi.PackageError{Code: installErrCode, Message: installErrMessage(p)}}
		}
		return pkgState{state: ppapi.PackageNotInstalled}
	}
	if s.g.u64("pkgstate|"+e.key, uint64(max(p.idx, 0)), 0)%10 < 4 {
		return pkgState{state: ppapi.PackageInstalled}
	}
	return pkgState{state: ppapi.PackageNotInstalled}
}

func (s *Simulator) listTenantPackages(w http.ResponseWriter, req *request) {
	q := req.r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	off, end, ok := s.page(w, q, len(s.pkgs), 0)
	if !ok {
		return
	}
	resp := ppapi.ApplicationPackageListResponse{Value: make([]ppapi.ApplicationPackage, 0, end-off)}
	for _, p := range s.pkgs[off:end] {
		resp.Value = append(resp.Value, p.tenantView())
	}
	if end < len(s.pkgs) {
		resp.NextLink = nextLink(req, nil, end)
	}
	writeJSON(w, http.StatusOK, resp)
}

// requireDataverse writes 404 for an environment without Dataverse:
// packages live in Dataverse (REAL-API.md §7.5).
func requireDataverse(w http.ResponseWriter, e *envRec) bool {
	if e.dataverse {
		return true
	}
	writeError(w, http.StatusNotFound, "DataverseNotFound", "The environment '"+e.id+"' has no Dataverse database; application packages and flow runs need one.")
	return false
}

func (s *Simulator) listEnvironmentPackages(w http.ResponseWriter, req *request) {
	q := req.r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(req.now)
	e := s.lookupEnv(w, req.args[0])
	if e == nil || !requireDataverse(w, e) {
		return
	}
	off, end, ok := s.page(w, q, len(s.pkgs), 0)
	if !ok {
		return
	}
	resp := ppapi.ApplicationPackageListResponse{Value: make([]ppapi.ApplicationPackage, 0, end-off)}
	for _, p := range s.pkgs[off:end] {
		v := p.tenantView()
		v.LearnMoreURL = ""
		st := s.pkgStateIn(e, p)
		v.State = st.state
		v.LastError = st.lastErr
		resp.Value = append(resp.Value, v)
	}
	if end < len(s.pkgs) {
		resp.NextLink = nextLink(req, nil, end)
	}
	writeJSON(w, http.StatusOK, resp)
}

// installPackage starts an install: 202 with Location (the operation's
// status URL on the request's host) and Retry-After. The package may be
// named by its id (the spec) or its uniqueName (the real service). While
// another operation runs on the environment the answer is 409
// OperationNotStartable, which is also what a double-posted install gets.
func (s *Simulator) installPackage(w http.ResponseWriter, req *request) {
	body, err := io.ReadAll(io.LimitReader(req.r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestBody", "The request body could not be read.")
		return
	}
	if len(body) > maxBody {
		writeError(w, http.StatusBadRequest, "RequestBodyTooLarge", "The request body is larger than 1 MiB.")
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 && !json.Valid(body) {
		writeError(w, http.StatusBadRequest, "InvalidRequestBody", "The request body is not valid JSON.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(req.now)
	e := s.lookupEnv(w, req.args[0])
	if e == nil {
		return
	}
	name, err := url.PathUnescape(req.args[1])
	if err != nil || !isPackageName(name) {
		writeError(w, http.StatusBadRequest, "InvalidApplicationPackage", "The application package '"+sanitize(req.args[1])+"' is not a valid package id or unique name.")
		return
	}
	if !requireDataverse(w, e) {
		return
	}
	var p *pkgRec
	for _, c := range s.pkgs {
		if strings.EqualFold(c.id, name) || strings.EqualFold(c.uniqueName, name) {
			p = c
			break
		}
	}
	if p == nil {
		writeError(w, http.StatusNotFound, "ApplicationPackageNotFound", "Package requested for installation was not found: '"+name+"'.")
		return
	}
	if s.busy(e, req.now) {
		writeError(w, http.StatusConflict, "OperationNotStartable", "The operation cannot be started because there is an active operation on the environment '"+e.id+"'. Try again when it has finished.")
		return
	}
	op := &opRec{id: s.nextID("operation"), envKey: e.key, pkg: p, created: req.now}
	s.ops[strings.ToLower(op.id)] = op
	s.pending = append(s.pending, op)
	w.Header().Set("Location", baseURL(req.r)+"/appmanagement/environments/"+e.id+"/operations/"+op.id+"?api-version="+url.QueryEscape(req.apiVersion))
	w.Header().Set("Retry-After", s.retryAfter())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

func (s *Simulator) installStatus(w http.ResponseWriter, req *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(req.now)
	e := s.lookupEnv(w, req.args[0])
	if e == nil {
		return
	}
	id, err := url.PathUnescape(req.args[1])
	if err != nil || !isGUID(id) {
		writeError(w, http.StatusBadRequest, "InvalidOperationId", "The operation id '"+sanitize(req.args[1])+"' is not a GUID.")
		return
	}
	op := s.ops[strings.ToLower(id)]
	if op == nil || op.envKey != e.key {
		writeError(w, http.StatusNotFound, "OperationNotFound", "The operation '"+id+"' was not found in the environment '"+e.id+"'.")
		return
	}
	writeJSON(w, http.StatusOK, s.opView(op, req.now))
}

// opView is the status of an operation at now. lastActionDateTime is left
// out while NotStarted (the real service sends null; the spec does not
// allow null).
func (s *Simulator) opView(op *opRec, now time.Time) ppapi.OperationStatus {
	v := ppapi.OperationStatus{ID: op.id, OperationID: op.id, CreatedDateTime: timePtr(op.created)}
	switch s.opPhase(op, now) {
	case 0:
		v.Status = ppapi.OperationNotStarted
	case 1:
		v.Status = ppapi.OperationRunning
		v.LastActionDateTime = timePtr(op.created.Add(s.step))
		v.StatusMessage = strPtr("Installing '" + op.pkg.uniqueName + "'.")
	default:
		v.LastActionDateTime = timePtr(op.created.Add(2 * s.step))
		if op.pkg.fails {
			v.Status = ppapi.OperationFailed
			v.StatusMessage = strPtr("The installation failed.")
			v.Error = &ppapi.OperationError{Code: installErrCode, Message: installErrMessage(op.pkg)}
		} else {
			v.Status = ppapi.OperationSucceeded
			v.StatusMessage = strPtr("'" + op.pkg.uniqueName + "' was installed.")
		}
	}
	return v
}
