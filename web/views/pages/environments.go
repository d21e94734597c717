package pages

import "ppportal/ppapi"

// EnvironmentsVM is the overview's view model.
type EnvironmentsVM struct {
	Rows []EnvironmentRow
}

// EnvironmentRow is one environment in the overview table.
type EnvironmentRow struct {
	ID, Name, SKU, Region, Location, State, Dataverse string
}

// NewEnvironmentsVM maps API environments to rows.
func NewEnvironmentsVM(envs []ppapi.Environment) EnvironmentsVM {
	vm := EnvironmentsVM{Rows: make([]EnvironmentRow, 0, len(envs))}
	for _, e := range envs {
		p := e.Properties
		row := EnvironmentRow{
			ID: e.Name, Name: p.DisplayName, SKU: string(p.EnvironmentSKU),
			Region: p.AzureRegion, Location: e.Location, State: string(p.ProvisioningState),
			Dataverse: "No",
		}
		if p.HasDataverse() {
			row.Dataverse = "Yes"
			if p.LinkedEnvironmentMetadata != nil && p.LinkedEnvironmentMetadata.Version != "" {
				row.Dataverse = p.LinkedEnvironmentMetadata.Version
			}
		}
		vm.Rows = append(vm.Rows, row)
	}
	return vm
}
