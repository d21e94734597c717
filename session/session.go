// Package session signs users in with Entra ID (OpenID Connect with PKCE),
// keeps their sessions server-side behind a gorilla/sessions store (memory
// or Redis), and brokers on-behalf-of tokens for the Power Platform APIs.
//
// It knows nothing of the web framework: the web layer calls it with plain
// *http.Request and http.ResponseWriter values.
package session

import (
	"context"
	"time"
)

// User is the signed-in person. Identity is the immutable pair (TenantID,
// OID), never the UPN or e-mail (SECURITY.md §3.1 item 14).
type User struct {
	OID      string
	TenantID string
	UPN      string
	Name     string
}

// Key identifies the user across sessions and replicas.
func (u User) Key() string { return u.TenantID + "/" + u.OID }

// Tokens are the user's own tokens for the portal's API, from sign-in or
// refresh. They never leave the server.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	Expiry       time.Time
}

// Expired reports whether the access token is expired, or will be within
// skew, at now.
func (t Tokens) Expired(now time.Time, skew time.Duration) bool {
	return t.AccessToken == "" || !now.Add(skew).Before(t.Expiry)
}

// SignIn is the result of a completed authorization-code flow.
type SignIn struct {
	User     User
	Tokens   Tokens
	ReturnTo string
	AuthTime time.Time
}

// TokenHolder is what the token broker needs from the signed-in session: who
// the user is, their current tokens, and a way to replace the tokens under a
// lock held per session (across replicas when the store is shared), so that
// concurrent requests refresh once.
type TokenHolder interface {
	// SessionID identifies the session (for locks and caches); never shown.
	SessionID() string
	// User returns the signed-in user.
	User() User
	// Tokens returns the tokens as last loaded.
	Tokens() Tokens
	// UpdateTokens runs fn under the session's lock with the freshest stored
	// tokens, stores what fn returns, and returns it. If fn returns an error,
	// nothing is stored.
	UpdateTokens(ctx context.Context, fn func(current Tokens) (Tokens, error)) (Tokens, error)
}

type holderKey struct{}

// WithHolder returns a context carrying h, for the broker.
func WithHolder(ctx context.Context, h TokenHolder) context.Context {
	return context.WithValue(ctx, holderKey{}, h)
}

// HolderFrom returns the TokenHolder in ctx, or nil.
func HolderFrom(ctx context.Context) TokenHolder {
	h, _ := ctx.Value(holderKey{}).(TokenHolder)
	return h
}
