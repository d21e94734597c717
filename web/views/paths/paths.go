// Package paths builds the portal's URLs from typed values, so no handler
// or view concatenates an unescaped id into a link (STYLE.md §9 point 11).
package paths

import "net/url"

// Environments is the overview.
const Environments = "/environments"

// Environment is one environment's page.
func Environment(id string) string { return "/environments/" + url.PathEscape(id) }

// EnvironmentApplications is an environment's packages.
func EnvironmentApplications(id string) string { return Environment(id) + "/applications" }

// EnvironmentDelete is the delete confirmation page of an environment.
func EnvironmentDelete(id string) string { return Environment(id) + "/delete" }

// Operation is an install operation's progress page.
func Operation(envID, opID string) string {
	return Environment(envID) + "/operations/" + url.PathEscape(opID)
}

// FlowRuns is the runs of one workflow in an environment.
func FlowRuns(envID, workflowID string) string {
	return Environment(envID) + "/flows/" + url.PathEscape(workflowID) + "/runs"
}

// Applications is the tenant catalog.
const Applications = "/applications"

// BillingPolicies is the policy list.
const BillingPolicies = "/billing/policies"

// BillingPolicy is one policy's page.
func BillingPolicy(id string) string { return BillingPolicies + "/" + url.PathEscape(id) }

// BillingPolicyEdit is a policy's edit form.
func BillingPolicyEdit(id string) string { return BillingPolicy(id) + "/edit" }

// BillingPolicyDelete is a policy's delete confirmation.
func BillingPolicyDelete(id string) string { return BillingPolicy(id) + "/delete" }
