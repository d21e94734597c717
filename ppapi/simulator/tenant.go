package simulator

import (
	"fmt"
	"strings"
	"time"

	"ppportal/ppapi"
)

// Locations are the Power Platform geographies (BAP location ids) a
// billing policy may be created in; environments are spread over the
// first ones. The list is fixed so that validation errors are stable.
var Locations = []string{
	"unitedstates", "europe", "asia", "australia", "india", "japan", "canada",
	"unitedkingdom", "southamerica", "france", "germany", "unitedarabemirates",
	"switzerland", "norway", "korea", "southafrica", "singapore", "sweden",
}

// azureRegions maps a geography to the Azure regions its environments use.
var azureRegions = map[string][]string{
	"unitedstates":  {"westus", "eastus"},
	"europe":        {"northeurope", "westeurope"},
	"asia":          {"eastasia", "southeastasia"},
	"australia":     {"australiaeast", "australiasoutheast"},
	"india":         {"centralindia", "southindia"},
	"japan":         {"japaneast", "japanwest"},
	"canada":        {"canadacentral", "canadaeast"},
	"unitedkingdom": {"uksouth", "ukwest"},
	"southamerica":  {"brazilsouth"},
	"france":        {"francecentral"},
	"germany":       {"germanywestcentral"},
}

// crmSuffix is the Dataverse host suffix of a geography.
var crmSuffix = map[string]string{
	"unitedstates": "crm", "southamerica": "crm2", "canada": "crm3", "europe": "crm4",
	"asia": "crm5", "australia": "crm6", "japan": "crm7", "india": "crm8",
	"unitedkingdom": "crm11", "france": "crm12", "germany": "crm16",
}

// envRec is one environment. Its JSON is built from these fields on
// demand and cached per $expand variant until the record changes.
type envRec struct {
	idx          int
	id, key      string // key is the lower-cased id
	name         string
	description  *string
	location     string
	region       string
	sku          ppapi.EnvironmentSKU
	provisioning ppapi.ProvisioningState
	creationType string
	isDefault    bool
	created      time.Time
	modified     time.Time
	creator      int // index into users; -1 = the platform
	dataverse    bool
	domain       string
	dvVersion    string
	mgmtState    string
	runtimeState string
	cadence      string
	keyManagedBy string
	capacity     [3]float64 // Database, File, Log in MB
	addons       []ppapi.AddonInfo

	deleteStarted time.Time // zero: not being deleted
	deleteOpID    string

	cache [4][]byte // JSON by expand bits (1 capacity, 2 addons)
}

// pkgRec is a tenant application package.
type pkgRec struct {
	idx         int
	id          string
	uniqueName  string
	name        string
	description string
	version     string
	publisher   string
	visibility  string
	fails       bool
}

// pkgState is a package's state in one environment.
type pkgState struct {
	state   ppapi.PackageState
	lastErr *ppapi.PackageError
}

// opRec is an install operation.
type opRec struct {
	id      string
	envKey  string
	pkg     *pkgRec
	created time.Time
	settled bool
}

// policyRec is a billing policy.
type policyRec struct {
	p ppapi.BillingPolicy
}

// wfRec is a seeded workflow in one environment.
type wfRec struct {
	id      string
	runs    int
	trigger string
	every   time.Duration
	big     bool // the one that covers every status
}

type user struct {
	id, name, upn string
}

var userNames = []string{"Megan Bowen", "Alex Wilber", "Adele Vance", "Nestor Wilke", "Lidia Holloway", "Diego Siciliani"}

// seedEnv is a hand-written environment of the first 14.
type seedEnv struct {
	name         string
	sku          ppapi.EnvironmentSKU
	location     string
	region       int
	dataverse    bool
	provisioning ppapi.ProvisioningState
	creationType string
	domain       string
	description  string
	addons       bool
}

var seedEnvs = []seedEnv{
	{"Contoso (default)", ppapi.SKUDefault, "unitedstates", 0, true, ppapi.ProvisioningSucceeded, "System", "contoso", "", false},
	{"Contoso Sales (Prod)", ppapi.SKUProduction, "unitedstates", 0, true, ppapi.ProvisioningSucceeded, "User", "contososales", "Sales apps and flows for North America.", true},
	{"Contoso Sales (Test)", ppapi.SKUSandbox, "unitedstates", 1, true, ppapi.ProvisioningSucceeded, "User", "contososalestest", "", false},
	{"Contoso HR (Prod)", ppapi.SKUProduction, "europe", 0, true, ppapi.ProvisioningSucceeded, "User", "contosohr", "People and onboarding apps.", true},
	{"Contoso HR (Dev)", ppapi.SKUDeveloper, "europe", 1, true, ppapi.ProvisioningSucceeded, "Developer", "contosohrdev", "", false},
	{"Finance Operations (Prod)", ppapi.SKUProduction, "unitedkingdom", 0, true, ppapi.ProvisioningSucceeded, "User", "contosofinance", "", true},
	{"Field Service Trial", ppapi.SKUTrial, "asia", 0, true, ppapi.ProvisioningSucceeded, "User", "contosofieldtrial", "30-day evaluation.", false},
	{"Marketing Team", ppapi.SKUTeams, "unitedstates", 1, true, ppapi.ProvisioningSucceeded, "User", "contosomarketingteam", "", false},
	{"Power BI Embedded Sandbox", ppapi.SKUSandbox, "australia", 0, false, ppapi.ProvisioningSucceeded, "User", "", "", false},
	{"Contoso Support (Prod)", ppapi.SKUProduction, "japan", 0, true, ppapi.ProvisioningInProgress, "User", "contososupport", "", false},
	{"Innovation Lab", ppapi.SKUTrial, "canada", 0, false, ppapi.ProvisioningSucceeded, "User", "", "", false},
	{"Adele Vance's Environment", ppapi.SKUDeveloper, "india", 0, true, ppapi.ProvisioningSucceeded, "Developer", "orgadele", "", false},
	{"Legacy Integrations", ppapi.SKUSandbox, "europe", 1, false, ppapi.ProvisioningFailed, "User", "", "", false},
	{"Copilot Studio Pilot", ppapi.SKUProduction, "asia", 1, true, ppapi.ProvisioningSucceeded, "User", "contosocopilot", "", true},
}

// mainEnvIdx is "Contoso Sales (Prod)": it holds the busy and the empty
// workflow and the historic failed install.
const mainEnvIdx = 1

var (
	procDepts    = []string{"Sales", "HR", "Finance", "Marketing", "Logistics", "Legal", "Support", "Operations", "Research", "Procurement", "IT", "Facilities"}
	procPurposes = []string{"Apps", "Automation", "Portal", "Reporting", "Intake", "Analytics", "Integration", "Agents"}
	procStages   = []string{"Prod", "Test", "Dev", "UAT"}
	procSKUs     = []ppapi.EnvironmentSKU{ppapi.SKUProduction, ppapi.SKUProduction, ppapi.SKUSandbox, ppapi.SKUSandbox, ppapi.SKUTrial, ppapi.SKUDeveloper, ppapi.SKUTeams}
	procGeos     = []string{"unitedstates", "unitedstates", "europe", "europe", "asia", "australia", "india", "japan", "canada", "unitedkingdom", "southamerica", "france", "germany"}
)

type seedPkg struct {
	uniqueName, name, description, publisher string
}

var seedPkgs = []seedPkg{
	{"MicrosoftFormsPro", "Dynamics 365 Customer Voice", "Create surveys and capture customer feedback.", "Microsoft Dynamics 365"},
	{"Office365Groups", "Microsoft 365 Groups", "Connect Dataverse records to Microsoft 365 groups.", "Microsoft Dynamics 365"},
	{"PowerAppsChecker", "Power Apps checker", "Static analysis of solutions against best-practice rules.", "Microsoft Power Platform"},
	{"msdyn_FieldService", "Dynamics 365 Field Service", "Schedule, dispatch and track field work.", "Microsoft Dynamics 365"},
	{"msdyn_ProjectOperations", "Dynamics 365 Project Operations", "Plan, staff and bill projects.", "Microsoft Dynamics 365"},
	{"PowerPagesStarterTemplates", "Power Pages starter templates", "Templates for business websites.", "Microsoft Power Platform"},
	{"CreatorKitCore", "Creator Kit", "Fluent UI components for canvas and model-driven apps.", "Microsoft Power CAT"},
	{"CoECoreComponents", "CoE Starter Kit - Core Components", "Inventory of apps, flows and makers.", "Microsoft Power CAT"},
	{"msdyn_SalesInsights", "Sales Insights", "Assistant cards and relationship analytics.", "Microsoft Dynamics 365"},
	{"msdyn_ChannelIntegrationFramework", "Channel Integration Framework", "Embed communication channels in apps.", "Microsoft Dynamics 365"},
}

// failingPkgIdx is the package whose install always fails.
const failingPkgIdx = 9

// tenant is everything seeded; Simulator adds the mutable state.
type tenant struct {
	g        gen
	tenantID string
	epoch    time.Time
	users    []user
	envs     []*envRec
	pkgs     []*pkgRec
	policies []*policyRec
}

func buildTenant(seed int64, tenantID string, n int, epoch time.Time) *tenant {
	g := gen{seed: uint64(seed)} // #nosec G115 -- the seed's bits are reinterpreted on purpose: every int64, negative too, is a valid, distinct seed
	if !isGUID(tenantID) {
		tenantID = g.guid("tenant", 0)
	}
	t := &tenant{g: g, tenantID: tenantID, epoch: epoch}
	for i, name := range userNames {
		first := strings.ToLower(strings.Fields(name)[0])
		t.users = append(t.users, user{id: g.guid("user", uint64(i)), name: name, upn: first + "@contoso.onmicrosoft.com"})
	}
	t.envs = make([]*envRec, 0, n)
	for i := 0; i < n; i++ {
		t.envs = append(t.envs, t.buildEnv(i))
	}
	for i, sp := range seedPkgs {
		r := g.rng("pkg", uint64(i))
		vis := "All"
		if i == 5 {
			vis = "None"
		}
		t.pkgs = append(t.pkgs, &pkgRec{
			idx: i, id: g.guid("pkg", uint64(i)), uniqueName: sp.uniqueName, name: sp.name,
			description: sp.description, publisher: sp.publisher, visibility: vis,
			version: fmt.Sprintf("9.%d.%d.%d", r.IntN(3), 23000+r.IntN(2000), 10000+r.IntN(90000)),
			fails:   i == failingPkgIdx,
		})
	}
	t.policies = t.seedPolicies()
	return t
}

func (t *tenant) buildEnv(i int) *envRec {
	g := t.g
	r := g.rng("env", uint64(max(i, 0)))
	e := &envRec{idx: i, creator: r.IntN(len(t.users)), mgmtState: "Ready", runtimeState: "Enabled", keyManagedBy: "Microsoft", cadence: "Frequent"}
	var regionIdx int
	if i < len(seedEnvs) {
		s := seedEnvs[i]
		e.name, e.sku, e.location, e.dataverse = s.name, s.sku, s.location, s.dataverse
		e.provisioning, e.creationType, e.domain = s.provisioning, s.creationType, s.domain
		regionIdx = s.region
		if s.description != "" {
			d := s.description
			e.description = &d
		}
		if s.addons {
			e.addons = []ppapi.AddonInfo{
				{AddonType: "AppPass", Allocated: float64(5 + r.IntN(20)), AddonUnit: "Unit"},
				{AddonType: "PerFlowPlan", Allocated: float64(1 + r.IntN(5)), AddonUnit: "Unit"},
			}
		}
	} else {
		e.name = fmt.Sprintf("%s %s %04d (%s)", procDepts[r.IntN(len(procDepts))], procPurposes[r.IntN(len(procPurposes))], i, procStages[r.IntN(len(procStages))])
		e.sku = procSKUs[r.IntN(len(procSKUs))]
		e.location = procGeos[r.IntN(len(procGeos))]
		regionIdx = r.IntN(2)
		e.dataverse = r.IntN(4) != 0 || e.sku == ppapi.SKUTeams
		e.provisioning = ppapi.ProvisioningSucceeded
		switch r.IntN(100) {
		case 0:
			e.provisioning = ppapi.ProvisioningInProgress
		case 1:
			e.provisioning = ppapi.ProvisioningFailed
		}
		e.creationType = "User"
		if e.sku == ppapi.SKUDeveloper {
			e.creationType = "Developer"
		}
		if e.dataverse {
			e.domain = "org" + g.guid("env", uint64(max(i, 0)))[:8]
		}
		if r.IntN(5) == 0 {
			e.addons = []ppapi.AddonInfo{{AddonType: "AppPass", Allocated: float64(1 + r.IntN(10)), AddonUnit: "Unit"}}
		}
	}
	regions := azureRegions[e.location]
	e.region = regions[regionIdx%len(regions)]
	if i == 0 {
		e.id = defaultPrefix + t.tenantID
		e.isDefault = true
		e.creator = -1
		e.description = nil
	} else {
		e.id = g.guid("env", uint64(max(i, 0)))
	}
	e.key = strings.ToLower(e.id)
	e.created = t.epoch.Add(-time.Duration(30+r.IntN(900))*24*time.Hour - time.Duration(r.IntN(86400))*time.Second)
	e.modified = e.created.Add(time.Duration(r.IntN(20*24*3600)) * time.Second)
	if e.provisioning == ppapi.ProvisioningInProgress {
		e.mgmtState = "NotReady"
		e.created = t.epoch.Add(-time.Duration(10+r.IntN(50)) * time.Minute)
		e.modified = e.created
	}
	if e.sku == ppapi.SKUTrial && r.IntN(2) == 0 {
		e.runtimeState = "Disabled"
	}
	if r.IntN(3) == 0 {
		e.cadence = "Moderate"
	}
	if i == 5 {
		e.keyManagedBy = "Customer"
	}
	if e.dataverse {
		e.dvVersion = fmt.Sprintf("9.2.%d.%05d", 24000+r.IntN(2000), r.IntN(1000))
		e.capacity = [3]float64{float64(200 + r.IntN(9000)), float64(50 + r.IntN(20000)), float64(r.IntN(2000))}
	}
	return e
}

func (t *tenant) seedPolicies() []*policyRec {
	type sp struct {
		name, location, rg string
		status             ppapi.BillingPolicyStatus
	}
	seeds := []sp{
		{"Contoso PAYG", "unitedstates", "rg-powerplatform-billing", ppapi.BillingEnabled},
		{"Contoso Europe PAYG", "europe", "rg-pp-billing-eu", ppapi.BillingEnabled},
		{"APAC Pay-as-you-go", "asia", "rg-pp-billing-apac", ppapi.BillingEnabled},
		{"R&D Sandbox billing", "unitedstates", "rg-rnd-sandbox", ppapi.BillingDisabled},
	}
	out := make([]*policyRec, 0, len(seeds))
	for i, s := range seeds {
		r := t.g.rng("policy", uint64(i))
		sub := t.g.guid("subscription", uint64(i%2))
		created := t.epoch.Add(-time.Duration(60+r.IntN(300))*24*time.Hour - time.Duration(r.IntN(86400))*time.Second)
		modified := created.Add(time.Duration(r.IntN(40*24*3600)) * time.Second)
		out = append(out, &policyRec{p: ppapi.BillingPolicy{
			ID: t.g.guid("policy", uint64(i)), Name: s.name, Location: s.location, Status: s.status,
			BillingInstrument: &ppapi.BillingInstrument{
				ID:             armID(sub, s.rg, s.name),
				ResourceGroup:  s.rg,
				SubscriptionID: sub,
			},
			CreatedBy:      &ppapi.Principal{ID: t.users[i%len(t.users)].id, Type: "User"},
			CreatedOn:      timePtr(created),
			LastModifiedBy: &ppapi.Principal{ID: t.users[(i+1)%len(t.users)].id, Type: "User"},
			LastModifiedOn: timePtr(modified),
		}})
	}
	return out
}

// armID is the Azure resource id of the account a policy creates.
func armID(sub, rg, name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.PowerPlatform/accounts/" + b.String()
}

func timePtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

func strPtr(s string) *string { return &s }

// workflows are the seeded workflows of an environment, computed from the
// seed on demand (none without Dataverse). The main environment holds the
// busy workflow (every status, > 250 runs) first and an empty one last.
func (t *tenant) workflows(e *envRec) []wfRec {
	if !e.dataverse {
		return nil
	}
	r := t.g.rng("wfs", uint64(max(e.idx, 0)))
	n := 2 + r.IntN(2)
	triggers := []string{"manual", "Recurrence", "When_a_row_is_added,_modified_or_deleted", "When_a_new_email_arrives_(V3)"}
	out := make([]wfRec, 0, n)
	for j := 0; j < n; j++ {
		w := wfRec{
			id:      t.g.guid("wf|"+e.key, uint64(j)),
			runs:    3 + r.IntN(40),
			trigger: triggers[r.IntN(len(triggers))],
			every:   time.Duration(1+r.IntN(12)) * time.Hour,
		}
		if e.idx == mainEnvIdx {
			switch j {
			case 0:
				w.runs, w.big, w.every, w.trigger = 263, true, 2*time.Hour, "Recurrence"
			case n - 1:
				w.runs = 0
			}
		}
		out = append(out, w)
	}
	return out
}
