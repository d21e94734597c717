package ppapi

import "net/http"

// Spec operationIds, as WithAPIVersion takes them.
const (
	// OpListEnvironments lists environments (BAP).
	OpListEnvironments = "listEnvironments"
	// OpGetEnvironment reads one environment (BAP).
	OpGetEnvironment = "getEnvironment"
	// OpDeleteEnvironment deletes an environment (BAP).
	OpDeleteEnvironment = "deleteEnvironment"
	// OpGetEnvironmentApplicationPackages lists an environment's application packages.
	OpGetEnvironmentApplicationPackages = "getEnvironmentApplicationPackages"
	// OpInstallApplicationPackage installs a package.
	OpInstallApplicationPackage = "installApplicationPackage"
	// OpGetApplicationPackageInstallStatus reads an install operation.
	OpGetApplicationPackageInstallStatus = "getApplicationPackageInstallStatus"
	// OpGetTenantApplicationPackages lists the tenant's packages.
	OpGetTenantApplicationPackages = "getTenantApplicationPackages"
	// OpListFlowRuns lists flow runs.
	OpListFlowRuns = "listFlowRuns"
	// OpListBillingPolicies lists billing policies.
	OpListBillingPolicies = "listBillingPolicies"
	// OpCreateBillingPolicy creates a billing policy.
	OpCreateBillingPolicy = "createBillingPolicy"
	// OpGetBillingPolicy reads a billing policy.
	OpGetBillingPolicy = "getBillingPolicy"
	// OpUpdateBillingPolicy updates a billing policy.
	OpUpdateBillingPolicy = "updateBillingPolicy"
	// OpDeleteBillingPolicy deletes a billing policy.
	OpDeleteBillingPolicy = "deleteBillingPolicy"
)

// Spec default api-versions (REAL-API.md §6).
const (
	bapAPIVersion  = "2020-10-01"
	ppAPIVersion   = "2022-03-01-preview"
	pathBAPEnvs    = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
	pathAppEnvs    = "/appmanagement/environments/"
	pathAppTenant  = "/appmanagement/applicationPackages"
	pathFlowEnvs   = "/powerautomate/environments/"
	pathBilling    = "/licensing/billingPolicies"
	headerClientID = "x-ms-client-request-id"
)

// operation is one operation of the spec: its method, the endpoint (and so
// the token audience) it belongs to, and its default api-version.
type operation struct {
	id       string
	method   string
	endpoint Endpoint
	version  string
}

var (
	opListEnvironments          = operation{OpListEnvironments, http.MethodGet, EndpointBAP, bapAPIVersion}
	opGetEnvironment            = operation{OpGetEnvironment, http.MethodGet, EndpointBAP, bapAPIVersion}
	opDeleteEnvironment         = operation{OpDeleteEnvironment, http.MethodDelete, EndpointBAP, bapAPIVersion}
	opGetEnvironmentPackages    = operation{OpGetEnvironmentApplicationPackages, http.MethodGet, EndpointUnified, ppAPIVersion}
	opInstallApplicationPackage = operation{OpInstallApplicationPackage, http.MethodPost, EndpointUnified, ppAPIVersion}
	opGetInstallStatus          = operation{OpGetApplicationPackageInstallStatus, http.MethodGet, EndpointUnified, ppAPIVersion}
	opGetTenantPackages         = operation{OpGetTenantApplicationPackages, http.MethodGet, EndpointUnified, ppAPIVersion}
	opListFlowRuns              = operation{OpListFlowRuns, http.MethodGet, EndpointUnified, ppAPIVersion}
	opListBillingPolicies       = operation{OpListBillingPolicies, http.MethodGet, EndpointUnified, ppAPIVersion}
	opCreateBillingPolicy       = operation{OpCreateBillingPolicy, http.MethodPost, EndpointUnified, ppAPIVersion}
	opGetBillingPolicy          = operation{OpGetBillingPolicy, http.MethodGet, EndpointUnified, ppAPIVersion}
	opUpdateBillingPolicy       = operation{OpUpdateBillingPolicy, http.MethodPatch, EndpointUnified, ppAPIVersion}
	opDeleteBillingPolicy       = operation{OpDeleteBillingPolicy, http.MethodDelete, EndpointUnified, ppAPIVersion}
)

// operations lists all 13, in spec order.
var operations = [...]operation{
	opListEnvironments, opGetEnvironment, opDeleteEnvironment,
	opGetEnvironmentPackages, opInstallApplicationPackage, opGetInstallStatus,
	opGetTenantPackages, opListFlowRuns, opListBillingPolicies,
	opCreateBillingPolicy, opGetBillingPolicy, opUpdateBillingPolicy,
	opDeleteBillingPolicy,
}

func lookupOperation(id string) (operation, bool) {
	for _, op := range operations {
		if op.id == id {
			return op, true
		}
	}
	return operation{}, false
}
