package pages

import "strings"

// stateClass maps a state, package state or operation status to a badge
// colour. States are open sets: anything unknown is neutral.
func stateClass(s string) string {
	switch strings.ToLower(s) {
	case "succeeded", "enabled", "ready", "installed", "yes":
		return "ok"
	case "failed", "installfailed", "uninstallfailed", "disabled", "cancelled", "canceled":
		return "bad"
	case "deleting", "warning", "inprogress", "linkeddatabaseprovisioning", "running", "notstarted",
		"installrequested", "installing", "installscheduled", "installretrying", "uninstallrequested", "uninstalling":
		return "warn"
	case "notspecified", "none", "notinstalled", "":
		return "neutral"
	}
	return "neutral"
}
