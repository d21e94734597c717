package pages

import (
	"strconv"

	"ppportal/web/views/paths"
)

// EnvironmentDeletionURL is the page that follows an environment's
// deletion; every is the poll interval in seconds (0 for the default).
func EnvironmentDeletionURL(id string) string { return paths.Environment(id) + "/deletion" }

// EnvironmentDeletionURLEvery is EnvironmentDeletionURL with a poll
// interval carried in the URL, so a reload polls at the same pace.
func EnvironmentDeletionURLEvery(id string, every int) string {
	if every <= 0 {
		return EnvironmentDeletionURL(id)
	}
	return EnvironmentDeletionURL(id) + "?every=" + strconv.Itoa(every)
}

// EnvironmentDeleteVM is the delete confirmation page.
type EnvironmentDeleteVM struct {
	Env EnvironmentVM
	// CSRF is the form's token.
	CSRF string
	// Typed is what the user typed; TypedError says why it was refused.
	Typed, TypedError string
	// Conflict is set when Power Platform answered 409: another operation
	// is running on the environment.
	Conflict bool
}

// Title is the document title, most specific first.
func (vm EnvironmentDeleteVM) Title() string { return "Delete " + vm.Env.Name + " · Environments" }

// DeletionPhase is where a deletion stands.
type DeletionPhase string

// Deletion phases.
const (
	DeletionRunning DeletionPhase = "deleting"
	DeletionGone    DeletionPhase = "gone"
	// DeletionNotDeleting means the environment exists and is not being
	// deleted (a stale link, or a delete that failed and was rolled back).
	DeletionNotDeleting DeletionPhase = "not-deleting"
)

// DeletionVM is the state of an environment's deletion.
type DeletionVM struct {
	ID, Name string
	Phase    DeletionPhase
	// Provisioning is the state read, when the environment still exists.
	Provisioning string
	// Every is the poll interval in seconds; ThrottledFor is set when the
	// last read was throttled, and the next poll waits that long.
	Every, ThrottledFor int
}

// Terminal reports whether polling stops.
func (vm DeletionVM) Terminal() bool { return vm.Phase != DeletionRunning }

// URL is the status URL the partial polls.
func (vm DeletionVM) URL() string { return EnvironmentDeletionURLEvery(vm.ID, vm.Every) }

// PollTrigger is the hx-trigger of the polling partial.
func (vm DeletionVM) PollTrigger() string { return pollTrigger(max(vm.Every, vm.ThrottledFor)) }

// Title is the document title.
func (vm DeletionVM) Title() string {
	name := vm.Name
	if name == "" {
		name = vm.ID
	}
	switch vm.Phase {
	case DeletionGone:
		return "Deleted " + name + " · Environments"
	case DeletionRunning:
		return "Deleting " + name + " · Environments"
	}
	return name + " · Environments"
}

// pollTrigger is an htmx polling trigger every n seconds (default 2).
// There is no visibility filter expression: the portal's CSP forbids eval,
// and htmx (allowEval false) would turn any filter into "always true".
func pollTrigger(n int) string {
	if n <= 0 {
		n = 2
	}
	return "every " + strconv.Itoa(n) + "s"
}
