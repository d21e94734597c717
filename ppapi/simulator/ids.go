package simulator

import (
	"hash/fnv"
	"math/rand/v2"
	"ppportal/ppapi"
	"strings"
)

// gen derives every seeded value from (seed, kind, n, k) with splitmix64,
// so any entity can be built on its own, in any order, without a shared
// random stream: the tenant is the same byte for byte for the same seed,
// and entity 9,999 costs no more than entity 0.
type gen struct{ seed uint64 }

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func strHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// u64 is the k-th random word of entity n of the given kind.
func (g gen) u64(kind string, n, k uint64) uint64 {
	return mix(mix(mix(g.seed^strHash(kind))^n) ^ k)
}

// rng is a private random stream for entity n of the given kind.
func (g gen) rng(kind string, n uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.u64(kind, n, 0), g.u64(kind, n, 1))) // #nosec G404 -- seeded on purpose: the simulated tenant must be reproducible from its seed; nothing secret comes from it
}

// guid is a version-4-shaped GUID for entity n of the given kind.
func (g gen) guid(kind string, n uint64) string {
	return formatGUID(g.u64(kind, n, 2), g.u64(kind, n, 3))
}

const hexDigits = "0123456789abcdef"

func formatGUID(hi, lo uint64) string {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte((hi >> (56 - 8*i)) & 0xff)
		b[8+i] = byte((lo >> (56 - 8*i)) & 0xff)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexDigits[c>>4]
		out[j+1] = hexDigits[c&0x0f]
		j += 2
	}
	return string(out[:])
}

// isGUID and isEnvironmentID accept exactly what the client accepts, so
// the simulator and the client cannot drift apart on what an id is.
var (
	isGUID          = ppapi.ValidGUID
	isEnvironmentID = ppapi.ValidEnvironmentID
)

const defaultPrefix = "Default-"

// isPackageName reports whether s can be a package id or uniqueName: the
// real service takes a uniqueName (letters, digits, '_', '.', '-'), the
// spec a GUID; both fit this alphabet.
func isPackageName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// isAPIVersion accepts the shapes the services use: a date with an
// optional -preview suffix, or the bare "1" of install poll URLs
// (REAL-API.md §6).
func isAPIVersion(s string) bool {
	if s == "1" {
		return true
	}
	s = strings.TrimSuffix(s, "-preview")
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isResourceGroup follows Azure's rule: 1-90 characters of letters,
// digits, '_', '-', '.', '(' and ')', not ending in '.'.
func isResourceGroup(s string) bool {
	if s == "" || len(s) > 90 || strings.HasSuffix(s, ".") {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return true
}
