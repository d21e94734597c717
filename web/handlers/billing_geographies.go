package handlers

import "ppportal/web/views/components"

// geography is a Power Platform geography a billing policy may be created
// in: the BAP location id the API takes, and its name for people.
type geography struct {
	ID, Label string
}

// geographies are the Power Platform geographies of the create form, in
// the order the API documents them. The portal must not import the
// simulator, so the list lives here; a test checks it equals
// simulator.Locations, which validates creates the same way.
var geographies = []geography{
	{"unitedstates", "United States"},
	{"europe", "Europe"},
	{"asia", "Asia"},
	{"australia", "Australia"},
	{"india", "India"},
	{"japan", "Japan"},
	{"canada", "Canada"},
	{"unitedkingdom", "United Kingdom"},
	{"southamerica", "South America"},
	{"france", "France"},
	{"germany", "Germany"},
	{"unitedarabemirates", "United Arab Emirates"},
	{"switzerland", "Switzerland"},
	{"norway", "Norway"},
	{"korea", "Korea"},
	{"southafrica", "South Africa"},
	{"singapore", "Singapore"},
	{"sweden", "Sweden"},
}

// geographyLabel names a location id; an id the portal does not know is
// shown as it came.
func geographyLabel(id string) string {
	for _, g := range geographies {
		if g.ID == id {
			return g.Label
		}
	}
	return id
}

// knownGeography reports whether id is one of the geographies.
func knownGeography(id string) bool {
	for _, g := range geographies {
		if g.ID == id {
			return true
		}
	}
	return false
}

// geographyOptions are the location select's options, a prompt first.
func geographyOptions() []components.FormOption {
	out := make([]components.FormOption, 0, len(geographies)+1)
	out = append(out, components.FormOption{Value: "", Label: "Choose a geography"})
	for _, g := range geographies {
		out = append(out, components.FormOption{Value: g.ID, Label: g.Label})
	}
	return out
}
