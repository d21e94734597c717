// Package components holds generic widgets shared by several pages.
package components

import "github.com/a-h/templ"

// FormInputProps describe one labelled text input with its error message
// next to it. The error paragraph's id is ID+"-error" and the input points
// at it with aria-describedby, so screen readers read the message with the
// field.
type FormInputProps struct {
	// ID is the input's id (kebab-case); Name its form name.
	ID, Name string
	// Label is the visible label; Hint an optional line under it.
	Label, Hint string
	// Value is what the user typed, kept across a failed submit.
	Value string
	// Error is the validation message, "" when the field is fine.
	Error string
	// Type is the input type; "" means text.
	Type string
	// Required, MaxLength and Placeholder become the matching attributes;
	// the server validates again in any case.
	Required    bool
	MaxLength   int
	Placeholder string
	// Attrs are extra attributes (autocomplete, spellcheck, hx-*).
	Attrs templ.Attributes
}

// FormOption is one choice of a select.
type FormOption struct {
	Value, Label string
}

// FormSelectProps describe one labelled select with its error message.
type FormSelectProps struct {
	ID, Name, Label, Hint string
	// Value is the selected option's value.
	Value string
	Error string
	// Options are the choices, in display order.
	Options  []FormOption
	Required bool
	Attrs    templ.Attributes
}

func inputType(t string) string {
	if t == "" {
		return "text"
	}
	return t
}

func describedBy(id, hint, err string) string {
	out := ""
	if hint != "" {
		out = id + "-hint"
	}
	if err != "" {
		if out != "" {
			out += " "
		}
		out += id + "-error"
	}
	return out
}
