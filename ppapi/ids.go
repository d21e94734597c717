package ppapi

import "strings"

// ValidGUID reports whether s is a GUID in its canonical 8-4-4-4-12
// hexadecimal form, in either case, without braces.
func ValidGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// ValidEnvironmentID reports whether s is an environment id: a GUID, or
// Default-<GUID> for a tenant's default environment (REAL-API.md §14), in
// either case.
func ValidEnvironmentID(s string) bool {
	const prefix = "default-"
	if len(s) == len(prefix)+36 && strings.EqualFold(s[:len(prefix)], prefix) {
		return ValidGUID(s[len(prefix):])
	}
	return ValidGUID(s)
}

// ValidPackageID reports whether s names an application package in an
// install path: a GUID or a package uniqueName (REAL-API.md §7.6), that is
// a letter or digit followed by at most 127 letters, digits, '_', '.' or
// '-'.
func ValidPackageID(s string) bool {
	if s == "" || len(s) > 128 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validExpand reports whether s is a plausible $expand value: a comma
// separated list of property paths such as properties.capacity or
// properties/billingPolicy.
func validExpand(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '/' && c != ',' && c != '_' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
