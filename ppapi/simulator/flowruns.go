package simulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"ppportal/ppapi"
)

// listFlowRuns answers a workflow's runs, newest first: 200 with a page,
// 204 when the workflow has none (or is not one the tenant knows, as the
// real service cannot tell those apart), 404 without Dataverse, 400 when
// workflowId is missing or not a GUID.
func (s *Simulator) listFlowRuns(w http.ResponseWriter, req *request) {
	q := req.r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(req.now)
	e := s.lookupEnv(w, req.args[0])
	if e == nil {
		return
	}
	wfID := q.Get("workflowId")
	if !isGUID(wfID) {
		msg := "The workflowId query parameter is required."
		if wfID != "" {
			msg = "The workflowId '" + sanitize(wfID) + "' is not a GUID."
		}
		writeError(w, http.StatusBadRequest, "InvalidWorkflowId", msg)
		return
	}
	if !requireDataverse(w, e) {
		return
	}
	var wf *wfRec
	wfs := s.tenantView().workflows(e)
	for i := range wfs {
		if strings.EqualFold(wfs[i].id, wfID) {
			wf = &wfs[i]
		}
	}
	if wf == nil || wf.runs == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	off, end, ok := s.page(w, q, wf.runs, 0)
	if !ok {
		return
	}
	resp := ppapi.FlowRunListResponse{Value: make([]ppapi.FlowRun, 0, end-off)}
	for k := off; k < end; k++ {
		resp.Value = append(resp.Value, s.flowRun(e, wf, k))
	}
	if end < wf.runs {
		resp.NextLink = nextLink(req, []string{"workflowId"}, end)
	}
	writeJSON(w, http.StatusOK, resp)
}

// terminalRunStatuses are the statuses a run ends with, most common first.
var terminalRunStatuses = []ppapi.FlowRunStatus{
	ppapi.FlowRunSucceeded, ppapi.FlowRunFailed, ppapi.FlowRunCancelled, ppapi.FlowRunSkipped,
	ppapi.FlowRunSuspended, ppapi.FlowRunTimedOut, ppapi.FlowRunAborted, ppapi.FlowRunIgnored,
	ppapi.FlowRunFaulted,
}

// flowRun is run k (0 = newest) of a workflow, a pure function of the
// seed, so a page costs only its own runs. The busy workflow's newest runs
// are Running and Waiting, then every terminal status once, then mostly
// Succeeded.
func (s *Simulator) flowRun(e *envRec, wf *wfRec, k int) ppapi.FlowRun {
	r := s.g.rng("run|"+wf.id, uint64(max(k, 0)))
	start := s.epoch.Add(-time.Duration(k)*wf.every - time.Duration(r.IntN(600))*time.Second)
	var status ppapi.FlowRunStatus
	switch {
	case wf.big && k == 0:
		status = ppapi.FlowRunRunning
	case wf.big && k == 1:
		status = ppapi.FlowRunWaiting
	case wf.big && k-2 < len(terminalRunStatuses):
		status = terminalRunStatuses[k-2]
	default:
		switch n := r.IntN(20); {
		case n < 15:
			status = ppapi.FlowRunSucceeded
		case n < 18:
			status = ppapi.FlowRunFailed
		case n < 19:
			status = ppapi.FlowRunCancelled
		default:
			status = ppapi.FlowRunSkipped
		}
	}
	name := runName(s.g.u64("runname|"+wf.id, uint64(max(k, 0)), 0))
	trig := &ppapi.FlowRunTrigger{Name: wf.trigger, StartTime: timePtr(start), Status: "Succeeded"}
	p := ppapi.FlowRunProperties{
		StartTime:   timePtr(start),
		Status:      status,
		Correlation: &ppapi.FlowRunCorrelation{ClientTrackingID: runName(s.g.u64("runtrack|"+wf.id, uint64(max(k, 0)), 0))},
		Trigger:     trig,
	}
	switch status {
	case ppapi.FlowRunRunning, ppapi.FlowRunWaiting:
		// endTime stays null (omitted) while the run is open.
		trig.EndTime = timePtr(start.Add(time.Duration(200+r.IntN(800)) * time.Millisecond))
	case ppapi.FlowRunSkipped:
		trig.Status = "Skipped"
		p.EndTime = timePtr(start)
		trig.EndTime = timePtr(start)
	default:
		p.EndTime = timePtr(start.Add(time.Duration(2+r.IntN(900)) * time.Second))
		trig.EndTime = timePtr(start.Add(time.Duration(200+r.IntN(800)) * time.Millisecond))
	}
	return ppapi.FlowRun{
		Name:       name,
		ID:         "/providers/Microsoft.ProcessSimple/environments/" + e.id + "/flows/" + wf.id + "/runs/" + name,
		Type:       "Microsoft.ProcessSimple/environments/flows/runs",
		Properties: p,
	}
}

// runName has the shape of a Logic Apps run id: 0858 + 22 digits + CU + 2.
func runName(x uint64) string {
	d := strconv.FormatUint(x, 10)
	for len(d) < 22 {
		d = "0" + d
	}
	return "0858" + d[:22] + "CU" + strconv.Itoa(10+int(x%90))
}
