package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"ppportal/ppapi"
)

// maxPolicyName is the longest billing policy name accepted.
const maxPolicyName = 100

// caller is who the simulator records as creating and modifying
// policies: the first seeded user, as the real record carries {id,type}.
func (s *Simulator) caller() *ppapi.Principal {
	return &ppapi.Principal{ID: s.users[0].id, Type: "User"}
}

func (s *Simulator) listPolicies(w http.ResponseWriter, req *request) {
	q := req.r.URL.Query()
	limit := 0
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "InvalidTop", "$top must be a positive integer.")
			return
		}
		limit = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	off, end, ok := s.page(w, q, len(s.policies), limit)
	if !ok {
		return
	}
	resp := ppapi.BillingPolicyListResponse{Value: make([]ppapi.BillingPolicy, 0, end-off)}
	for _, p := range s.policies[off:end] {
		resp.Value = append(resp.Value, p.p)
	}
	if end < len(s.policies) {
		resp.NextLink = nextLink(req, []string{"$top"}, end)
	}
	writeJSON(w, http.StatusOK, resp)
}

// policyBody is a create or update body; pointers tell absent from empty.
type policyBody struct {
	Name              *string                    `json:"name"`
	Location          *string                    `json:"location"`
	Status            *ppapi.BillingPolicyStatus `json:"status"`
	BillingInstrument *struct {
		ID             *string `json:"id"`
		ResourceGroup  *string `json:"resourceGroup"`
		SubscriptionID *string `json:"subscriptionId"`
	} `json:"billingInstrument"`
}

// readPolicyBody decodes a JSON object body; it writes 400 itself.
func readPolicyBody(w http.ResponseWriter, r *http.Request) (*policyBody, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		writeError(w, http.StatusBadRequest, "InvalidRequestBody", "The request body could not be read or is larger than 1 MiB.")
		return nil, false
	}
	var b policyBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&b); err != nil || dec.More() || bytes.TrimSpace(raw)[0] != '{' {
		writeError(w, http.StatusBadRequest, "InvalidRequestBody", "The request body must be a JSON object.")
		return nil, false
	}
	return &b, true
}

// checkName validates a policy name; except is the policy being renamed.
func (s *Simulator) checkName(name, except string) (code, msg string) {
	switch {
	case strings.TrimSpace(name) == "":
		return "InvalidBillingPolicyName", "The billing policy name is required."
	case utf8.RuneCountInString(name) > maxPolicyName:
		return "InvalidBillingPolicyName", "The billing policy name must be at most " + strconv.Itoa(maxPolicyName) + " characters."
	case !utf8.ValidString(name):
		return "InvalidBillingPolicyName", "The billing policy name is not valid UTF-8."
	}
	for _, p := range s.policies {
		if p.p.ID != except && strings.EqualFold(strings.TrimSpace(p.p.Name), strings.TrimSpace(name)) {
			return "DuplicateBillingPolicyName", "A billing policy named '" + p.p.Name + "' already exists."
		}
	}
	return "", ""
}

func checkStatus(st ppapi.BillingPolicyStatus) (code, msg string) {
	if st != ppapi.BillingEnabled && st != ppapi.BillingDisabled {
		return "InvalidBillingPolicyStatus", "The status '" + sanitize(string(st)) + "' is not valid: use Enabled or Disabled."
	}
	return "", ""
}

// createPolicy validates and stores a new policy: 201 with it. Errors are
// 400 ErrorResponse; a duplicate name is 400 too, as the spec declares no
// 409 here.
func (s *Simulator) createPolicy(w http.ResponseWriter, req *request) {
	b, ok := readPolicyBody(w, req.r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(code, msg string) { writeError(w, http.StatusBadRequest, code, msg) }
	if b.Name == nil {
		fail("InvalidBillingPolicyName", "The billing policy name is required.")
		return
	}
	if code, msg := s.checkName(*b.Name, ""); code != "" {
		fail(code, msg)
		return
	}
	if b.Location == nil || !slices.Contains(Locations, *b.Location) {
		got := ""
		if b.Location != nil {
			got = *b.Location
		}
		fail("InvalidLocation", "The location '"+sanitize(got)+"' is not a Power Platform geography. Supported: "+strings.Join(Locations, ", ")+".")
		return
	}
	status := ppapi.BillingEnabled
	if b.Status != nil {
		status = *b.Status
		if code, msg := checkStatus(status); code != "" {
			fail(code, msg)
			return
		}
	}
	bi := b.BillingInstrument
	if bi == nil {
		fail("InvalidBillingInstrument", "The billingInstrument with subscriptionId and resourceGroup is required.")
		return
	}
	if bi.SubscriptionID == nil || !isGUID(*bi.SubscriptionID) {
		fail("InvalidSubscriptionId", "The billingInstrument.subscriptionId must be an Azure subscription GUID.")
		return
	}
	if bi.ResourceGroup == nil || !isResourceGroup(*bi.ResourceGroup) {
		fail("InvalidResourceGroup", "The billingInstrument.resourceGroup must be 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'.")
		return
	}
	sub := strings.ToLower(*bi.SubscriptionID)
	p := &policyRec{p: ppapi.BillingPolicy{
		ID: s.nextID("policy"), Name: *b.Name, Location: *b.Location, Status: status,
		BillingInstrument: &ppapi.BillingInstrument{
			ID: armID(sub, *bi.ResourceGroup, *b.Name), ResourceGroup: *bi.ResourceGroup, SubscriptionID: sub,
		},
		CreatedBy: s.caller(), CreatedOn: timePtr(req.now),
		LastModifiedBy: s.caller(), LastModifiedOn: timePtr(req.now),
	}}
	s.policies = append(s.policies, p)
	writeJSON(w, http.StatusCreated, p.p)
}

// lookupPolicy validates the id and finds the policy, writing 400 or 404
// itself. Callers hold s.mu.
func (s *Simulator) lookupPolicy(w http.ResponseWriter, raw string) (int, *policyRec) {
	id, err := url.PathUnescape(raw)
	if err != nil || !isGUID(id) {
		writeError(w, http.StatusBadRequest, "InvalidBillingPolicyId", "The billing policy id '"+sanitize(raw)+"' is not a GUID.")
		return -1, nil
	}
	for i, p := range s.policies {
		if strings.EqualFold(p.p.ID, id) {
			return i, p
		}
	}
	writeError(w, http.StatusNotFound, "BillingPolicyNotFound", "The billing policy '"+id+"' was not found.")
	return -1, nil
}

func (s *Simulator) getPolicy(w http.ResponseWriter, req *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, p := s.lookupPolicy(w, req.args[0]); p != nil {
		writeJSON(w, http.StatusOK, p.p)
	}
}

// updatePolicy changes only the fields the body names, and stamps
// lastModifiedOn/By. The billing instrument is immutable in the real
// service (REAL-API.md §7.9-13): repeating it unchanged is fine, changing
// it is 400.
func (s *Simulator) updatePolicy(w http.ResponseWriter, req *request) {
	s.mu.Lock()
	_, p := s.lookupPolicy(w, req.args[0])
	s.mu.Unlock()
	if p == nil {
		return
	}
	b, ok := readPolicyBody(w, req.r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, p = s.lookupPolicy(w, req.args[0]); p == nil {
		return
	}
	fail := func(code, msg string) { writeError(w, http.StatusBadRequest, code, msg) }
	next := p.p
	if b.Name != nil {
		if code, msg := s.checkName(*b.Name, p.p.ID); code != "" {
			fail(code, msg)
			return
		}
		next.Name = *b.Name
	}
	if b.Status != nil {
		if code, msg := checkStatus(*b.Status); code != "" {
			fail(code, msg)
			return
		}
		next.Status = *b.Status
	}
	if b.Location != nil && *b.Location != p.p.Location {
		fail("ImmutableProperty", "The location of a billing policy cannot be changed; create a new policy instead.")
		return
	}
	if bi := b.BillingInstrument; bi != nil {
		cur := p.p.BillingInstrument
		if bi.SubscriptionID != nil && !strings.EqualFold(*bi.SubscriptionID, cur.SubscriptionID) ||
			bi.ResourceGroup != nil && *bi.ResourceGroup != cur.ResourceGroup ||
			bi.ID != nil && *bi.ID != cur.ID {
			fail("ImmutableProperty", "The billing instrument of a billing policy cannot be changed; create a new policy instead.")
			return
		}
	}
	next.LastModifiedBy = s.caller()
	next.LastModifiedOn = timePtr(req.now)
	p.p = next
	writeJSON(w, http.StatusOK, p.p)
}

func (s *Simulator) deletePolicy(w http.ResponseWriter, req *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, p := s.lookupPolicy(w, req.args[0])
	if p == nil {
		return
	}
	s.policies = slices.Delete(s.policies, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}
