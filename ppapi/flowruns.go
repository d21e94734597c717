package ppapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// FlowRunPage is one page of flow runs.
type FlowRunPage struct {
	Runs []FlowRun
	// Next is an opaque cursor for the next page, "" on the last page.
	// Pass it back to ListFlowRuns with the same environment and workflow.
	Next string
	// NoContent says the service answered 204: no matching runs.
	NoContent bool
}

// maxCursorLen bounds the cursors ListFlowRuns accepts.
const maxCursorLen = 4096

// ListFlowRuns returns one page of the runs of a workflow (a GUID) in an
// environment. cursor is "" for the first page, else a FlowRunPage.Next
// from an earlier call for the same environment; a cursor that does not
// decode to this environment's flowRuns path on the unified endpoint is
// refused with an error wrapping ErrInvalidID, before anything is sent.
func (c *Client) ListFlowRuns(ctx context.Context, envID, workflowID, cursor string) (*FlowRunPage, error) {
	op := opListFlowRuns
	if !ValidEnvironmentID(envID) {
		return nil, invalidID(op.id, "environment id", envID)
	}
	if !ValidGUID(workflowID) {
		return nil, invalidID(op.id, "workflow id", workflowID)
	}
	var u *url.URL
	if cursor == "" {
		var err error
		u, err = c.endpointURL(op, pathFlowEnvs+url.PathEscape(envID)+"/flowRuns", url.Values{"workflowId": {workflowID}})
		if err != nil {
			return nil, err
		}
	} else {
		var ok bool
		if u, ok = c.decodeCursor(envID, workflowID, cursor); !ok {
			return nil, &kindError{op: op.id, msg: "invalid cursor", kinds: []error{ErrInvalidID}}
		}
		c.ensureAPIVersion(op, u)
	}
	res, err := c.do(ctx, op, u, nil)
	if err != nil {
		return nil, err
	}
	if res.status == http.StatusNoContent {
		return &FlowRunPage{Runs: []FlowRun{}, NoContent: true}, nil
	}
	var p page[FlowRun]
	if err := c.decode(op, res, &p); err != nil {
		return nil, err
	}
	out := &FlowRunPage{Runs: p.Value}
	if out.Runs == nil {
		out.Runs = []FlowRun{}
	}
	if link := p.next(); link != "" {
		next, err := c.resolveLink(op, u, link, "nextLink")
		if err != nil {
			return nil, err
		}
		h, port := hostPort(next)
		uh, up := hostPort(c.unified)
		if h != uh || port != up || next.Scheme != c.unified.Scheme {
			return nil, &kindError{op: op.id, msg: "nextLink refused: host " + sanitize(next.Host, 100) + " is not the unified endpoint's", kinds: []error{ErrForeignHost}}
		}
		if !c.flowRunsPath(next, envID, workflowID) {
			return nil, &kindError{op: op.id, msg: "nextLink points outside this environment's flow runs", kinds: []error{ErrBadResponse, ErrUnavailable}}
		}
		out.Next = base64.RawURLEncoding.EncodeToString([]byte(next.EscapedPath() + "?" + next.RawQuery))
	}
	return out, nil
}

// decodeCursor turns a cursor back into a URL on the unified endpoint,
// if it names envID's flowRuns path (and workflowID, when it names one).
func (c *Client) decodeCursor(envID, workflowID, cursor string) (*url.URL, bool) {
	if len(cursor) > maxCursorLen {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !strings.HasPrefix(string(raw), "/") || strings.HasPrefix(string(raw), "//") {
		return nil, false
	}
	ref, err := url.Parse(string(raw))
	if err != nil || ref.Scheme != "" || ref.Host != "" || ref.User != nil || ref.Opaque != "" || ref.Fragment != "" {
		return nil, false
	}
	u := *c.unified
	u.Path, u.RawPath, u.RawQuery = ref.Path, ref.RawPath, ref.RawQuery
	if !c.flowRunsPath(&u, envID, workflowID) {
		return nil, false
	}
	return &u, true
}

// flowRunsPath reports whether u's path is envID's flowRuns path under the
// unified endpoint and its workflowId, if any, is workflowID.
func (c *Client) flowRunsPath(u *url.URL, envID, workflowID string) bool {
	want := c.unified.EscapedPath() + pathFlowEnvs + url.PathEscape(envID) + "/flowRuns"
	if !strings.EqualFold(u.EscapedPath(), want) {
		return false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return false
	}
	if w, ok := q["workflowId"]; ok && (len(w) != 1 || !strings.EqualFold(w[0], workflowID)) {
		return false
	}
	return true
}
