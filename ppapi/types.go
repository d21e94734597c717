package ppapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// The types below mirror the schemas of the API contract
// (shared/spec/power-platform-api-openapi.json), widened where the real
// service sends more (REAL-API.md §8, §14). Nullable fields are pointers.
// Enumerations are named string types whose constants list the values we
// know; any other value decodes and is kept as it came, so nothing fails on
// a state or SKU the service adds later.

// Endpoint names the upstream an operation belongs to. Each takes a token
// of its own audience (REAL-API.md §1), so the token source is keyed by it.
type Endpoint string

const (
	// EndpointUnified is api.powerplatform.com (appmanagement, powerautomate,
	// licensing).
	EndpointUnified Endpoint = "unified"
	// EndpointBAP is api.bap.microsoft.com (environments).
	EndpointBAP Endpoint = "bap"
)

// EnvironmentSKU is the environment type (environmentSku).
type EnvironmentSKU string

// Known environment SKUs.
const (
	SKUProduction             EnvironmentSKU = "Production"
	SKUSandbox                EnvironmentSKU = "Sandbox"
	SKUTrial                  EnvironmentSKU = "Trial"
	SKUDeveloper              EnvironmentSKU = "Developer"
	SKUDefault                EnvironmentSKU = "Default"
	SKUTeams                  EnvironmentSKU = "Teams"
	SKUSubscriptionBasedTrial EnvironmentSKU = "SubscriptionBasedTrial"
)

// ProvisioningState is properties.provisioningState.
type ProvisioningState string

// Known provisioning states (the spec's and the real service's).
const (
	ProvisioningSucceeded                  ProvisioningState = "Succeeded"
	ProvisioningFailed                     ProvisioningState = "Failed"
	ProvisioningInProgress                 ProvisioningState = "InProgress"
	ProvisioningDeleting                   ProvisioningState = "Deleting"
	ProvisioningLinkedDatabaseProvisioning ProvisioningState = "LinkedDatabaseProvisioning"
)

// EnvironmentListResponse is the body of listEnvironments.
type EnvironmentListResponse struct {
	Value    []Environment `json:"value"`
	NextLink string        `json:"@odata.nextLink,omitempty"`
}

// Environment is a Power Platform environment. Name is its id: a GUID, or
// Default-<tenant GUID> for the tenant's default environment.
type Environment struct {
	ID         string                `json:"id,omitempty"`
	Type       string                `json:"type,omitempty"`
	Location   string                `json:"location,omitempty"`
	Name       string                `json:"name,omitempty"`
	Properties EnvironmentProperties `json:"properties"`
}

// EnvironmentProperties holds an environment's properties.
type EnvironmentProperties struct {
	TenantID                  string                     `json:"tenantId,omitempty"`
	AzureRegion               string                     `json:"azureRegion,omitempty"`
	DisplayName               string                     `json:"displayName,omitempty"`
	Description               *string                    `json:"description,omitempty"`
	CreatedTime               *time.Time                 `json:"createdTime,omitempty"`
	CreatedBy                 *Principal                 `json:"createdBy,omitempty"`
	LastModifiedTime          *time.Time                 `json:"lastModifiedTime,omitempty"`
	ProvisioningState         ProvisioningState          `json:"provisioningState,omitempty"`
	CreationType              string                     `json:"creationType,omitempty"`
	EnvironmentSKU            EnvironmentSKU             `json:"environmentSku,omitempty"`
	IsDefault                 bool                       `json:"isDefault"`
	Capacity                  []CapacityInfo             `json:"capacity,omitempty"`
	Addons                    []AddonInfo                `json:"addons,omitempty"`
	ClientURIs                *ClientURIs                `json:"clientUris,omitempty"`
	RuntimeEndpoints          map[string]string          `json:"runtimeEndpoints,omitempty"`
	DatabaseType              *string                    `json:"databaseType,omitempty"`
	LinkedEnvironmentMetadata *LinkedEnvironmentMetadata `json:"linkedEnvironmentMetadata,omitempty"`
	RetentionPeriod           string                     `json:"retentionPeriod,omitempty"`
	States                    *EnvironmentStates         `json:"states,omitempty"`
	UpdateCadence             *IDValue                   `json:"updateCadence,omitempty"`
	ProtectionStatus          *ProtectionStatus          `json:"protectionStatus,omitempty"`

	// Fields the real service sends that the spec does not list.
	LifecycleOperationsEnforcement *LifecycleOperationsEnforcement `json:"lifecycleOperationsEnforcement,omitempty"`
	OngoingOperation               *OngoingOperation               `json:"ongoingOperation,omitempty"`
}

// HasDataverse reports whether the environment has a Dataverse database.
// The spec says databaseType "none", the real service "None".
func (p *EnvironmentProperties) HasDataverse() bool {
	if p.LinkedEnvironmentMetadata != nil && p.LinkedEnvironmentMetadata.InstanceURL != "" {
		return true
	}
	return p.DatabaseType != nil && strings.EqualFold(*p.DatabaseType, "CommonDataService")
}

// IDValue is the {"id": "..."} shape the service uses for states.
type IDValue struct {
	ID string `json:"id,omitempty"`
}

// EnvironmentStates is properties.states.
type EnvironmentStates struct {
	Management *IDValue `json:"management,omitempty"`
	Runtime    *IDValue `json:"runtime,omitempty"`
}

// ClientURIs are the admin and maker links of an environment.
type ClientURIs struct {
	Admin string `json:"admin,omitempty"`
	Maker string `json:"maker,omitempty"`
}

// ProtectionStatus says who manages the encryption key.
type ProtectionStatus struct {
	KeyManagedBy string `json:"keyManagedBy,omitempty"`
}

// LifecycleOperationsEnforcement lists which lifecycle operations the
// service allows now, and why others are refused (REAL-API.md §9).
type LifecycleOperationsEnforcement struct {
	AllowedOperations    []LifecycleOperationRule `json:"allowedOperations,omitempty"`
	DisallowedOperations []LifecycleOperationRule `json:"disallowedOperations,omitempty"`
}

// LifecycleOperationRule is one entry of LifecycleOperationsEnforcement.
type LifecycleOperationRule struct {
	Type   IDValue `json:"type"`
	Reason *struct {
		Type    string `json:"type,omitempty"`
		Message string `json:"message,omitempty"`
	} `json:"reason,omitempty"`
}

// OngoingOperation is present on an environment while a lifecycle
// operation runs on it.
type OngoingOperation struct {
	ID   string   `json:"id,omitempty"`
	Type *IDValue `json:"type,omitempty"`
}

// LinkedEnvironmentMetadata describes the environment's Dataverse instance.
type LinkedEnvironmentMetadata struct {
	ResourceID                string     `json:"resourceId,omitempty"`
	FriendlyName              string     `json:"friendlyName,omitempty"`
	UniqueName                string     `json:"uniqueName,omitempty"`
	DomainName                string     `json:"domainName,omitempty"`
	Version                   string     `json:"version,omitempty"`
	InstanceURL               string     `json:"instanceUrl,omitempty"`
	InstanceAPIURL            string     `json:"instanceApiUrl,omitempty"`
	BaseLanguage              int        `json:"baseLanguage,omitempty"`
	InstanceState             string     `json:"instanceState,omitempty"`
	CreatedTime               *time.Time `json:"createdTime,omitempty"`
	BackgroundOperationsState string     `json:"backgroundOperationsState,omitempty"`
	ScaleGroup                string     `json:"scaleGroup,omitempty"`
	PlatformSKU               string     `json:"platformSku,omitempty"`
}

// Principal is who performed an action. The real service may send the
// literal id "SYSTEM".
type Principal struct {
	ID                string  `json:"id,omitempty"`
	DisplayName       *string `json:"displayName,omitempty"`
	Type              string  `json:"type,omitempty"`
	TenantID          *string `json:"tenantId,omitempty"`
	UserPrincipalName string  `json:"userPrincipalName,omitempty"`
}

// Name returns the best human label for the principal.
func (p *Principal) Name() string {
	if p == nil {
		return ""
	}
	switch {
	case p.DisplayName != nil && *p.DisplayName != "":
		return *p.DisplayName
	case p.UserPrincipalName != "":
		return p.UserPrincipalName
	}
	return p.ID
}

// CapacityInfo is one capacity type's consumption.
type CapacityInfo struct {
	CapacityType      string     `json:"capacityType,omitempty"`
	ActualConsumption float64    `json:"actualConsumption"`
	RatedConsumption  float64    `json:"ratedConsumption"`
	CapacityUnit      string     `json:"capacityUnit,omitempty"`
	UpdatedOn         *time.Time `json:"updatedOn,omitempty"`
}

// AddonInfo is one add-on allocation.
type AddonInfo struct {
	AddonType string  `json:"addonType,omitempty"`
	Allocated float64 `json:"allocated"`
	AddonUnit string  `json:"addonUnit,omitempty"`
}

// PackageState is an application package's install state. The spec lists
// three values; the real service twelve (REAL-API.md §7.5).
type PackageState string

// Known package states.
const (
	PackageInstalled        PackageState = "Installed"
	PackageNotInstalled     PackageState = "NotInstalled"
	PackageInstallFailed    PackageState = "InstallFailed"
	PackageNone             PackageState = "None"
	PackageInstallRequested PackageState = "InstallRequested"
	PackageInstalling       PackageState = "Installing"
)

// ApplicationPackageListResponse is the body of the two package lists.
type ApplicationPackageListResponse struct {
	Value    []ApplicationPackage `json:"value"`
	NextLink string               `json:"@odata.nextLink,omitempty"`
}

// ApplicationPackage is an installable package, in the tenant catalog or
// in one environment.
type ApplicationPackage struct {
	ID                    string        `json:"id,omitempty"`
	UniqueName            string        `json:"uniqueName,omitempty"`
	Version               string        `json:"version,omitempty"`
	LocalizedDescription  *string       `json:"localizedDescription,omitempty"`
	LocalizedName         *string       `json:"localizedName,omitempty"`
	ApplicationVisibility string        `json:"applicationVisibility,omitempty"`
	State                 PackageState  `json:"state,omitempty"`
	LastError             *PackageError `json:"lastError,omitempty"`

	// Fields the real service sends that the spec does not list.
	PublisherName string        `json:"publisherName,omitempty"`
	LearnMoreURL  string        `json:"learnMoreUrl,omitempty"`
	ErrorDetails  *PackageError `json:"errorDetails,omitempty"`
}

// Error returns the package's last error, from lastError (spec) or
// errorDetails (real service), or nil.
func (p *ApplicationPackage) Error() *PackageError {
	if p.LastError != nil {
		return p.LastError
	}
	return p.ErrorDetails
}

// DisplayName is the localized name, or the unique name without one.
func (p *ApplicationPackage) DisplayName() string {
	if p.LocalizedName != nil && *p.LocalizedName != "" {
		return *p.LocalizedName
	}
	return p.UniqueName
}

// PackageError is an install error. The spec has code and message; the
// real errorDetails has errorCode (a number or a hex string), errorName and
// message.
type PackageError struct {
	Code      string     `json:"code,omitempty"`
	Message   string     `json:"message,omitempty"`
	ErrorCode FlexString `json:"errorCode,omitempty"`
	ErrorName string     `json:"errorName,omitempty"`
}

// FlexString decodes a JSON string or number into a string.
type FlexString string

// UnmarshalJSON accepts a string, a number or null.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = FlexString(n.String())
	return nil
}

// OperationState is the status of an install operation.
type OperationState string

// Known operation states. Both spellings of cancelled occur.
const (
	OperationNotStarted OperationState = "NotStarted"
	OperationRunning    OperationState = "Running"
	OperationSucceeded  OperationState = "Succeeded"
	OperationFailed     OperationState = "Failed"
	OperationCancelled  OperationState = "Cancelled"
	OperationCanceled   OperationState = "Canceled"
)

// Terminal reports whether the operation has ended.
func (s OperationState) Terminal() bool {
	switch s {
	case OperationSucceeded, OperationFailed, OperationCancelled, OperationCanceled:
		return true
	}
	return false
}

// OperationStatus is the body of getApplicationPackageInstallStatus.
type OperationStatus struct {
	ID                 string          `json:"id,omitempty"`
	OperationID        string          `json:"operationId,omitempty"`
	Status             OperationState  `json:"status,omitempty"`
	StatusMessage      *string         `json:"statusMessage,omitempty"`
	CreatedDateTime    *time.Time      `json:"createdDateTime,omitempty"`
	LastActionDateTime *time.Time      `json:"lastActionDateTime,omitempty"`
	Error              *OperationError `json:"error,omitempty"`
}

// OperationError is the error of a failed operation.
type OperationError struct {
	Code      string     `json:"code,omitempty"`
	Message   string     `json:"message,omitempty"`
	ErrorCode FlexString `json:"errorCode,omitempty"`
	ErrorName string     `json:"errorName,omitempty"`
}

// FlowRunStatus is the status of one flow run.
type FlowRunStatus string

// Known flow run statuses.
const (
	FlowRunRunning   FlowRunStatus = "Running"
	FlowRunSucceeded FlowRunStatus = "Succeeded"
	FlowRunFailed    FlowRunStatus = "Failed"
	FlowRunCancelled FlowRunStatus = "Cancelled"
	FlowRunSkipped   FlowRunStatus = "Skipped"
	FlowRunSuspended FlowRunStatus = "Suspended"
	FlowRunTimedOut  FlowRunStatus = "TimedOut"
	FlowRunAborted   FlowRunStatus = "Aborted"
	FlowRunWaiting   FlowRunStatus = "Waiting"
	FlowRunIgnored   FlowRunStatus = "Ignored"
	FlowRunFaulted   FlowRunStatus = "Faulted"
)

// FlowRunStatuses lists the known statuses in display order.
var FlowRunStatuses = []FlowRunStatus{
	FlowRunRunning, FlowRunWaiting, FlowRunSucceeded, FlowRunFailed,
	FlowRunCancelled, FlowRunSkipped, FlowRunSuspended, FlowRunTimedOut,
	FlowRunAborted, FlowRunIgnored, FlowRunFaulted,
}

// FlowRunListResponse is the body of listFlowRuns.
type FlowRunListResponse struct {
	Value    []FlowRun `json:"value"`
	NextLink string    `json:"@odata.nextLink,omitempty"`
}

// FlowRun is one run of a cloud flow.
type FlowRun struct {
	Name       string            `json:"name,omitempty"`
	ID         string            `json:"id,omitempty"`
	Type       string            `json:"type,omitempty"`
	Properties FlowRunProperties `json:"properties"`
}

// FlowRunProperties holds a run's times, status, correlation and trigger.
type FlowRunProperties struct {
	StartTime   *time.Time          `json:"startTime,omitempty"`
	EndTime     *time.Time          `json:"endTime,omitempty"`
	Status      FlowRunStatus       `json:"status,omitempty"`
	Correlation *FlowRunCorrelation `json:"correlation,omitempty"`
	Trigger     *FlowRunTrigger     `json:"trigger,omitempty"`
}

// FlowRunCorrelation carries the run's client tracking id.
type FlowRunCorrelation struct {
	ClientTrackingID string `json:"clientTrackingId,omitempty"`
}

// FlowRunTrigger describes what started the run.
type FlowRunTrigger struct {
	Name      string     `json:"name,omitempty"`
	StartTime *time.Time `json:"startTime,omitempty"`
	EndTime   *time.Time `json:"endTime,omitempty"`
	Status    string     `json:"status,omitempty"`
}

// BillingPolicyStatus is a billing policy's status. The real service adds
// Provisioning and ProvisioningFailed after a create (REAL-API.md §3c).
type BillingPolicyStatus string

// Known billing policy statuses.
const (
	BillingEnabled            BillingPolicyStatus = "Enabled"
	BillingDisabled           BillingPolicyStatus = "Disabled"
	BillingProvisioning       BillingPolicyStatus = "Provisioning"
	BillingProvisioningFailed BillingPolicyStatus = "ProvisioningFailed"
)

// Settled reports whether the status will not change by itself.
func (s BillingPolicyStatus) Settled() bool {
	return s != BillingProvisioning
}

// BillingPolicyListResponse is the body of listBillingPolicies.
type BillingPolicyListResponse struct {
	Value    []BillingPolicy `json:"value"`
	NextLink string          `json:"@odata.nextLink,omitempty"`
}

// BillingPolicy links an Azure subscription to environments for
// pay-as-you-go billing.
type BillingPolicy struct {
	ID                string              `json:"id,omitempty"`
	Name              string              `json:"name,omitempty"`
	Location          string              `json:"location,omitempty"`
	Status            BillingPolicyStatus `json:"status,omitempty"`
	BillingInstrument *BillingInstrument  `json:"billingInstrument,omitempty"`
	CreatedBy         *Principal          `json:"createdBy,omitempty"`
	CreatedOn         *time.Time          `json:"createdOn,omitempty"`
	LastModifiedBy    *Principal          `json:"lastModifiedBy,omitempty"`
	LastModifiedOn    *time.Time          `json:"lastModifiedOn,omitempty"`
}

// BillingInstrument is the Azure subscription and resource group a policy
// bills to.
type BillingInstrument struct {
	ID             string `json:"id,omitempty"`
	ResourceGroup  string `json:"resourceGroup,omitempty"`
	SubscriptionID string `json:"subscriptionId,omitempty"`
}

// BillingPolicyCreateRequest is the body of createBillingPolicy.
type BillingPolicyCreateRequest struct {
	Name              string              `json:"name"`
	Location          string              `json:"location"`
	Status            BillingPolicyStatus `json:"status,omitempty"`
	BillingInstrument BillingInstrument   `json:"billingInstrument"`
}

// BillingPolicyUpdateRequest is the body of updateBillingPolicy: only the
// fields that changed are set.
type BillingPolicyUpdateRequest struct {
	Name              string              `json:"name,omitempty"`
	Status            BillingPolicyStatus `json:"status,omitempty"`
	BillingInstrument *BillingInstrument  `json:"billingInstrument,omitempty"`
}

// ErrorResponse is the enveloped error body of the spec.
type ErrorResponse struct {
	Error *ErrorBody `json:"error,omitempty"`
}

// ErrorBody is the inside of ErrorResponse.
type ErrorBody struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}
