package pages

import (
	"net/url"
	"strings"
	"time"

	"ppportal/ppapi"
	"ppportal/web/views/paths"
)

// OperationURL is an install's progress page; pkg (the package's unique
// name, optional) labels it.
func OperationURL(envID, opID, pkg string) string {
	u := paths.Operation(envID, opID)
	if pkg != "" {
		u += "?pkg=" + url.QueryEscape(pkg)
	}
	return u
}

// OperationVM is an install operation's state, as last read.
type OperationVM struct {
	EnvID, EnvName, OpID, Package string
	// Status is the operation's status as it came ("" while it cannot be
	// reported yet).
	Status              string
	Message             string
	Created, LastAction time.Time
	ErrCode, ErrMessage string
	// Pending is set when the service answered 409: not reportable yet.
	Pending bool
	// ThrottledFor is set when the read was throttled: wait that long.
	ThrottledFor int
	// Every is the poll interval in seconds.
	Every int
}

// NewOperationVM maps an install status.
func NewOperationVM(envID, opID, pkg string, st *ppapi.OperationStatus) OperationVM {
	vm := OperationVM{EnvID: envID, OpID: opID, Package: pkg}
	if st == nil {
		return vm
	}
	vm.Status = string(st.Status)
	if st.StatusMessage != nil {
		vm.Message = *st.StatusMessage
	}
	if st.CreatedDateTime != nil {
		vm.Created = *st.CreatedDateTime
	}
	if st.LastActionDateTime != nil {
		vm.LastAction = *st.LastActionDateTime
	}
	if e := st.Error; e != nil {
		vm.ErrCode = firstNonEmpty(e.Code, e.ErrorName, string(e.ErrorCode))
		vm.ErrMessage = e.Message
	}
	return vm
}

// Terminal reports whether the operation has ended; both spellings of
// cancelled count.
func (vm OperationVM) Terminal() bool { return ppapi.OperationState(vm.Status).Terminal() }

// Failed reports whether the operation ended in failure.
func (vm OperationVM) Failed() bool {
	return strings.EqualFold(vm.Status, string(ppapi.OperationFailed))
}

// URL is the operation's own URL, which its status partial polls.
func (vm OperationVM) URL() string { return OperationURL(vm.EnvID, vm.OpID, vm.Package) }

// PollTrigger is the partial's hx-trigger.
func (vm OperationVM) PollTrigger() string { return pollTrigger(max(vm.Every, vm.ThrottledFor)) }

// ShownStatus is the status to show: as it came, or a word for the
// moments when there is none.
func (vm OperationVM) ShownStatus() string {
	switch {
	case vm.Status != "":
		return vm.Status
	case vm.ThrottledFor > 0:
		return "Unknown"
	}
	return "NotStarted"
}

// Label names what is installed.
func (vm OperationVM) Label() string {
	if vm.Package != "" {
		return vm.Package
	}
	return "package"
}

// Title is the document title, most specific first.
func (vm OperationVM) Title() string {
	env := vm.EnvName
	if env == "" {
		env = vm.EnvID
	}
	return "Install " + vm.Label() + " · " + env + " · Environments"
}
