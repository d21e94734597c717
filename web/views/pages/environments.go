package pages

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"ppportal/ppapi"
)

// EnvironmentsVM is the overview's view model: tenant totals, the filter,
// and one page of matching rows.
type EnvironmentsVM struct {
	Filter EnvironmentFilter
	Totals EnvironmentTotals
	// Rows is the current page.
	Rows []EnvironmentRow
	// Matching is how many environments match the filter (all pages).
	Matching int
	// Pages is the number of pages (at least 1).
	Pages int
	// Options for the filter selects: values seen in the tenant plus the
	// known ones, sorted.
	SKUOptions, RegionOptions, StateOptions []string
}

// TenantEmpty reports whether the tenant has no environment at all.
func (vm EnvironmentsVM) TenantEmpty() bool { return vm.Totals.All == 0 }

// FirstRow and LastRow are the 1-based positions of the page's rows.
func (vm EnvironmentsVM) FirstRow() int {
	if len(vm.Rows) == 0 {
		return 0
	}
	return (vm.Filter.PageNum()-1)*EnvironmentsPageSize + 1
}

// LastRow is the position of the page's last row.
func (vm EnvironmentsVM) LastRow() int { return vm.FirstRow() + len(vm.Rows) - 1 }

// Title is the document title, most specific first.
func (vm EnvironmentsVM) Title() string {
	var parts []string
	f := vm.Filter
	if f.Q != "" {
		q := f.Q
		if utf8.RuneCountInString(q) > 40 {
			q = string([]rune(q)[:40]) + "…"
		}
		parts = append(parts, "“"+q+"”")
	}
	for _, s := range []string{f.SKU, f.State} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if f.Region != "" {
		parts = append(parts, "in "+f.Region)
	}
	switch f.Dataverse {
	case "yes":
		parts = append(parts, "with Dataverse")
	case "no":
		parts = append(parts, "without Dataverse")
	}
	t := strings.Join(parts, " ")
	if f.PageNum() > 1 {
		if t != "" {
			t = "Page " + strconv.Itoa(f.PageNum()) + " · " + t
		} else {
			t = "Page " + strconv.Itoa(f.PageNum())
		}
	}
	if t == "" {
		return "Environments"
	}
	return t + " · Environments"
}

// EnvironmentTotals are the tenant-wide counts above the table.
type EnvironmentTotals struct {
	All                        int
	BySKU, ByRegion, ByState   []Count
	WithDataverse, NoDataverse int
	// Capacity in MB by type (Database, File, Log, then any other).
	Capacity []Count64
}

// Count is a label and how many environments carry it.
type Count struct {
	Label string
	N     int
}

// Count64 is a label and an amount in MB.
type Count64 struct {
	Label string
	MB    float64
}

// EnvironmentRow is one environment in the overview table and the CSV.
type EnvironmentRow struct {
	ID, Name, SKU, Region, Location    string
	Provisioning, Runtime, Management  string
	HasDataverse                       bool
	DataverseVersion, InstanceURL      string
	Domain                             string
	CreatedBy                          string
	Created                            time.Time
	DatabaseMB, FileMB, LogMB, OtherMB float64
	IsDefault                          bool
}

// CapacityMB is the environment's total capacity use.
func (r EnvironmentRow) CapacityMB() float64 { return r.DatabaseMB + r.FileMB + r.LogMB + r.OtherMB }

// State is the provisioning state, with the runtime state after it when
// there is one.
func (r EnvironmentRow) State() string {
	switch {
	case r.Runtime == "":
		return r.Provisioning
	case r.Provisioning == "":
		return r.Runtime
	}
	return r.Provisioning + " · " + r.Runtime
}

// NewEnvironmentRow maps an API environment to a row.
func NewEnvironmentRow(e *ppapi.Environment) EnvironmentRow {
	p := &e.Properties
	r := EnvironmentRow{
		ID: e.Name, Name: p.DisplayName, SKU: string(p.EnvironmentSKU), Region: p.AzureRegion,
		Location: e.Location, Provisioning: string(p.ProvisioningState),
		HasDataverse: p.HasDataverse(), CreatedBy: p.CreatedBy.Name(), IsDefault: IsDefaultEnvironment(e),
	}
	if r.Name == "" {
		r.Name = e.Name
	}
	if p.States != nil {
		if p.States.Runtime != nil {
			r.Runtime = p.States.Runtime.ID
		}
		if p.States.Management != nil {
			r.Management = p.States.Management.ID
		}
	}
	if m := p.LinkedEnvironmentMetadata; m != nil {
		r.DataverseVersion, r.InstanceURL, r.Domain = m.Version, m.InstanceURL, m.DomainName
	}
	if p.CreatedTime != nil {
		r.Created = *p.CreatedTime
	}
	for _, c := range p.Capacity {
		switch strings.ToLower(c.CapacityType) {
		case "database":
			r.DatabaseMB += c.ActualConsumption
		case "file":
			r.FileMB += c.ActualConsumption
		case "log":
			r.LogMB += c.ActualConsumption
		default:
			r.OtherMB += c.ActualConsumption
		}
	}
	return r
}

// IsDefaultEnvironment reports whether e is the tenant's default
// environment, by any of the three signs the service gives.
func IsDefaultEnvironment(e *ppapi.Environment) bool {
	return e.Properties.IsDefault || e.Properties.EnvironmentSKU == ppapi.SKUDefault ||
		len(e.Name) > 8 && strings.EqualFold(e.Name[:8], "default-")
}

// KnownSKUs are the environment types offered in the filter even when the
// tenant has none of them.
var KnownSKUs = []string{
	string(ppapi.SKUProduction), string(ppapi.SKUSandbox), string(ppapi.SKUTrial), string(ppapi.SKUDeveloper),
	string(ppapi.SKUDefault), string(ppapi.SKUTeams), string(ppapi.SKUSubscriptionBasedTrial),
}

// KnownStates are the provisioning and runtime states offered in the
// filter.
var KnownStates = []string{
	string(ppapi.ProvisioningSucceeded), string(ppapi.ProvisioningFailed), string(ppapi.ProvisioningInProgress),
	string(ppapi.ProvisioningDeleting), string(ppapi.ProvisioningLinkedDatabaseProvisioning),
	"Enabled", "Disabled", "Warning", "Ready", "Running", "NotSpecified",
}

// EnvironmentIndex is what the overview derives from one fetched list,
// computed once per list and shared by every request that reads the same
// list (the per-user read cache hands out the same slice for seconds):
// lower-cased search keys, tenant totals, filter options, and each sort
// order asked for so far. A request then only walks one precomputed order
// and keeps the matches: no lower-casing, map building or sorting per
// request. It is safe for concurrent use; envs must not change.
type EnvironmentIndex struct {
	envs                           []ppapi.Environment
	lname, lid, ldomain            []string
	totals                         EnvironmentTotals
	skuOpts, regionOpts, stateOpts []string

	mu     sync.Mutex
	orders map[string][]int
}

// NewEnvironmentIndex indexes envs.
func NewEnvironmentIndex(envs []ppapi.Environment) *EnvironmentIndex {
	ix := &EnvironmentIndex{
		envs:  envs,
		lname: make([]string, len(envs)), lid: make([]string, len(envs)), ldomain: make([]string, len(envs)),
		totals: environmentTotals(envs),
		orders: map[string][]int{},
	}
	for i := range envs {
		e := &envs[i]
		name := e.Properties.DisplayName
		if name == "" {
			name = e.Name
		}
		ix.lname[i], ix.lid[i] = strings.ToLower(name), strings.ToLower(e.Name)
		if m := e.Properties.LinkedEnvironmentMetadata; m != nil {
			ix.ldomain[i] = strings.ToLower(m.DomainName)
		}
	}
	skus, regions, states := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range KnownSKUs {
		skus[s] = true
	}
	for _, s := range KnownStates {
		states[s] = true
	}
	for _, c := range ix.totals.BySKU {
		skus[c.Label] = true
	}
	for _, c := range ix.totals.ByRegion {
		regions[c.Label] = true
	}
	for _, c := range ix.totals.ByState {
		states[c.Label] = true
	}
	ix.skuOpts, ix.regionOpts, ix.stateOpts = sortedKeys(skus), sortedKeys(regions), sortedKeys(states)
	return ix
}

// Environments is the indexed list.
func (ix *EnvironmentIndex) Environments() []ppapi.Environment { return ix.envs }

// MatchEnvironments returns the rows of envs that match f, sorted as f
// says: the portal's own filter and sort over the already-fetched list.
func MatchEnvironments(envs []ppapi.Environment, f EnvironmentFilter) []EnvironmentRow {
	return NewEnvironmentIndex(envs).Match(f)
}

// Match returns the rows that match f, in f's order.
func (ix *EnvironmentIndex) Match(f EnvironmentFilter) []EnvironmentRow {
	idx := ix.matchIndices(f)
	out := make([]EnvironmentRow, len(idx))
	for k, i := range idx {
		out[k] = NewEnvironmentRow(&ix.envs[i])
	}
	return out
}

// sortItem is one environment with its sort keys.
type sortItem struct {
	i          int
	lname, lid string
	key        string
	num        float64
}

// order returns every environment's position in the order of sort column
// col, computed on first use and kept.
func (ix *EnvironmentIndex) order(col string, desc bool) []int {
	k := col
	if desc {
		k += " desc"
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if o, ok := ix.orders[k]; ok {
		return o
	}
	items := make([]sortItem, len(ix.envs))
	for i := range ix.envs {
		p := &ix.envs[i].Properties
		it := sortItem{i: i, lname: ix.lname[i], lid: ix.lid[i]}
		switch col {
		case "sku":
			it.key = strings.ToLower(string(p.EnvironmentSKU))
		case "region":
			it.key = strings.ToLower(p.AzureRegion)
		case "state":
			it.key = strings.ToLower(string(p.ProvisioningState))
			if p.States != nil && p.States.Runtime != nil {
				it.key += "\x00" + strings.ToLower(p.States.Runtime.ID)
			}
		case "dataverse":
			if p.HasDataverse() {
				it.num = 1
				if p.LinkedEnvironmentMetadata != nil {
					it.key = p.LinkedEnvironmentMetadata.Version
				}
			}
		case "created":
			if p.CreatedTime != nil {
				it.num = float64(p.CreatedTime.UnixMilli())
			}
		case "capacity":
			for _, c := range p.Capacity {
				it.num += c.ActualConsumption
			}
		}
		items[i] = it
	}
	slices.SortFunc(items, func(a, b sortItem) int {
		c := cmp.Or(cmp.Compare(a.num, b.num), strings.Compare(a.key, b.key),
			strings.Compare(a.lname, b.lname), strings.Compare(a.lid, b.lid))
		if desc {
			return -c
		}
		return c
	})
	o := make([]int, len(items))
	for k, it := range items {
		o[k] = it.i
	}
	ix.orders[k] = o
	return o
}

// matchIndices returns the positions of the environments that match f, in
// f's order: one walk over a precomputed order.
func (ix *EnvironmentIndex) matchIndices(f EnvironmentFilter) []int {
	q := strings.ToLower(f.Q)
	order := ix.order(f.SortKey(), f.Desc)
	if q == "" && f.SKU == "" && f.Region == "" && f.State == "" && f.Dataverse == "" {
		return order
	}
	out := make([]int, 0, len(order))
	for _, i := range order {
		e := &ix.envs[i]
		p := &e.Properties
		if f.SKU != "" && !strings.EqualFold(string(p.EnvironmentSKU), f.SKU) {
			continue
		}
		if f.Region != "" && !strings.EqualFold(p.AzureRegion, f.Region) && !strings.EqualFold(e.Location, f.Region) {
			continue
		}
		if f.State != "" && !matchState(p, f.State) {
			continue
		}
		if f.Dataverse != "" && (f.Dataverse == "yes") != p.HasDataverse() {
			continue
		}
		if q != "" && !strings.Contains(ix.lname[i], q) && !strings.Contains(ix.lid[i], q) && !strings.Contains(ix.ldomain[i], q) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// matchState reports whether the provisioning, runtime or management
// state is s.
func matchState(p *ppapi.EnvironmentProperties, s string) bool {
	if strings.EqualFold(string(p.ProvisioningState), s) {
		return true
	}
	if st := p.States; st != nil {
		if st.Runtime != nil && strings.EqualFold(st.Runtime.ID, s) || st.Management != nil && strings.EqualFold(st.Management.ID, s) {
			return true
		}
	}
	return false
}

// NewEnvironmentsVM builds the overview from envs (indexing them first).
func NewEnvironmentsVM(envs []ppapi.Environment, f EnvironmentFilter) EnvironmentsVM {
	return NewEnvironmentIndex(envs).VM(f)
}

// VM builds the overview: tenant totals, and the page of f's matching
// rows. A page past the end shows the last page.
func (ix *EnvironmentIndex) VM(f EnvironmentFilter) EnvironmentsVM {
	idx := ix.matchIndices(f)
	vm := EnvironmentsVM{Filter: f, Matching: len(idx), Totals: ix.totals}
	vm.Pages = max(1, (len(idx)+EnvironmentsPageSize-1)/EnvironmentsPageSize)
	if vm.Filter.PageNum() > vm.Pages {
		vm.Filter.Page = vm.Pages
	}
	start := (vm.Filter.PageNum() - 1) * EnvironmentsPageSize
	end := min(start+EnvironmentsPageSize, len(idx))
	vm.Rows = make([]EnvironmentRow, 0, end-start)
	for _, i := range idx[start:end] {
		vm.Rows = append(vm.Rows, NewEnvironmentRow(&ix.envs[i]))
	}
	vm.SKUOptions, vm.RegionOptions, vm.StateOptions = ix.skuOpts, ix.regionOpts, ix.stateOpts
	return vm
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" && k != "(none)" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func environmentTotals(envs []ppapi.Environment) EnvironmentTotals {
	t := EnvironmentTotals{All: len(envs)}
	sku, region, state := map[string]int{}, map[string]int{}, map[string]int{}
	capacity := map[string]float64{"Database": 0, "File": 0, "Log": 0}
	for i := range envs {
		p := &envs[i].Properties
		sku[string(p.EnvironmentSKU)]++
		region[p.AzureRegion]++
		state[string(p.ProvisioningState)]++
		if p.HasDataverse() {
			t.WithDataverse++
		} else {
			t.NoDataverse++
		}
		for _, c := range p.Capacity {
			capacity[c.CapacityType] += c.ActualConsumption
		}
	}
	t.BySKU, t.ByRegion, t.ByState = counts(sku), counts(region), counts(state)
	for _, k := range []string{"Database", "File", "Log"} {
		t.Capacity = append(t.Capacity, Count64{Label: k, MB: capacity[k]})
		delete(capacity, k)
	}
	for _, k := range slices.Sorted(mapKeys(capacity)) {
		t.Capacity = append(t.Capacity, Count64{Label: k, MB: capacity[k]})
	}
	return t
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// counts orders a tally by count, largest first, then by label. An empty
// label (a field the service left out) reads "(none)".
func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		if k == "" {
			k = "(none)"
		}
		out = append(out, Count{Label: k, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(b.N-a.N, strings.Compare(a.Label, b.Label)) })
	return out
}

// FormatMB shows an amount of storage in MB or GB.
func FormatMB(mb float64) string {
	if mb >= 1024 {
		return strconv.FormatFloat(mb/1024, 'f', 1, 64) + " GB"
	}
	return strconv.FormatFloat(mb, 'f', 0, 64) + " MB"
}

// FormatTime shows a time in UTC, to the minute; "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
