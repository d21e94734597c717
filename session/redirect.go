package session

import (
	"net/url"
	"strings"
)

// maxReturnLen bounds a post-sign-in return path. Every portal URL is far
// shorter; the bound also keeps the flow cookie under the browser limit.
const maxReturnLen = 2048

// SafeReturn reports whether raw is a safe post-sign-in redirect target and
// returns it unchanged (query included) if so. Only a local absolute path on
// the portal's own origin is accepted, such as "/environments?sku=Sandbox"
// (SECURITY.md §3.1 item 24). It refuses empty and relative paths, anything
// with a scheme or host ("https://x", "http:x", "//x", "/\x", "\\x"),
// control characters, spaces and non-ASCII bytes, backslashes, fragments,
// percent-encoded slashes, backslashes or control characters in the path
// (also double-encoded), dot segments and empty inner segments ("/..//x",
// "/a//b"), and
// values over 2 KB. On refusal it returns ("", false) and the caller picks
// its own default.
func SafeReturn(raw string) (string, bool) {
	if raw == "" || len(raw) > maxReturnLen || raw[0] != '/' {
		return "", false
	}
	for i := 0; i < len(raw); i++ {
		// Printable ASCII only, no space, backslash or fragment.
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			return "", false
		}
	}
	path, _, _ := strings.Cut(raw, "?")
	if !safePath(path) {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil ||
		!strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	return raw, true
}

// safePath checks the path part of a return target at every level of
// percent-decoding, so that a decoder further down the line (a proxy, a
// router, a browser) cannot turn it into a network-path reference.
func safePath(p string) bool {
	for range 4 {
		if strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
			return false
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; c < ' ' || c == 0x7f {
				return false
			}
		}
		segs := strings.Split(p[1:], "/")
		for i, seg := range segs {
			// A trailing slash is fine; an empty segment elsewhere is not.
			if (seg == "" && i != len(segs)-1) || seg == "." || seg == ".." {
				return false
			}
		}
		lower := strings.ToLower(p)
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
			return false
		}
		if !strings.Contains(p, "%") {
			return true
		}
		dec, err := url.PathUnescape(p)
		if err != nil {
			return false
		}
		p = dec
	}
	// Still encoded after several rounds: nobody writes links like that.
	return false
}
