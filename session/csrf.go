package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// csrfToken is the session-bound CSRF token for session id: an HMAC-SHA256
// of the id under a key derived from the store's EncryptionKey, so it is the
// same on every replica, constant for the session, useless for any other
// session, and reveals nothing about the id.
func csrfToken(key []byte, id string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("ppportal csrf v1\x00"))
	mac.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CSRFToken returns the session's CSRF token for forms and the htmx
// X-Csrf-Token header. It is constant for the session's lifetime.
func (s *Session) CSRFToken() string { return s.csrf }

// CheckCSRF reports whether token is the session's CSRF token, comparing in
// constant time.
func (s *Session) CheckCSRF(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}
