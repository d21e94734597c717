package devidp

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// maxTokenLen bounds what the verifier parses; Entra tokens stay well
// under it.
const maxTokenLen = 16 << 10

// Claims are the claims of a verified access token that the simulator and
// tests act on.
type Claims struct {
	OID, TID, UPN, Name, Scp, Aud string
	Wids                          []string
	Exp                           time.Time
	// AMR lists the authentication methods; "mfa" after a sign-in that
	// answered a claims challenge.
	AMR []string
	// AppID is the client the token was issued to (the azp claim).
	AppID string
}

// accessTokenClaims is the payload of an access token, named as in Entra
// v2 access tokens.
type accessTokenClaims struct {
	Aud               string   `json:"aud"`
	Iss               string   `json:"iss"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Exp               int64    `json:"exp"`
	Amr               []string `json:"amr,omitempty"`
	Azp               string   `json:"azp"`
	Azpacr            string   `json:"azpacr"`
	Name              string   `json:"name,omitempty"`
	OID               string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username"`
	Scp               string   `json:"scp"`
	Sub               string   `json:"sub"`
	Tid               string   `json:"tid"`
	Upn               string   `json:"upn"`
	Uti               string   `json:"uti"`
	Ver               string   `json:"ver"`
	Wids              []string `json:"wids,omitempty"`
}

// idTokenClaims is the payload of an ID token (Entra v2 claim names).
type idTokenClaims struct {
	Aud               string   `json:"aud"`
	Iss               string   `json:"iss"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Exp               int64    `json:"exp"`
	AuthTime          int64    `json:"auth_time"`
	Amr               []string `json:"amr,omitempty"`
	Email             string   `json:"email,omitempty"`
	Name              string   `json:"name"`
	Nonce             string   `json:"nonce,omitempty"`
	OID               string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username"`
	Sub               string   `json:"sub"`
	Tid               string   `json:"tid"`
	Upn               string   `json:"upn"`
	Uti               string   `json:"uti"`
	Ver               string   `json:"ver"`
}

// parsedClaims reads any JWT payload the verifier is shown.
type parsedClaims struct {
	Aud  jwt.Audience     `json:"aud"`
	Iss  string           `json:"iss"`
	Exp  *jwt.NumericDate `json:"exp"`
	Nbf  *jwt.NumericDate `json:"nbf"`
	Amr  []string         `json:"amr"`
	Azp  string           `json:"azp"`
	Name string           `json:"name"`
	OID  string           `json:"oid"`
	Scp  string           `json:"scp"`
	Tid  string           `json:"tid"`
	Upn  string           `json:"upn"`
	Ver  string           `json:"ver"`
	Wids []string         `json:"wids"`
}

func (c parsedClaims) public() Claims {
	out := Claims{OID: c.OID, TID: c.Tid, UPN: c.Upn, Name: c.Name, Scp: c.Scp, Wids: c.Wids, AMR: c.Amr, AppID: c.Azp}
	if len(c.Aud) == 1 {
		out.Aud = c.Aud[0]
	}
	if c.Exp != nil {
		out.Exp = c.Exp.Time()
	}
	return out
}

func (c parsedClaims) hasMFA() bool { return slices.Contains(c.Amr, "mfa") }

// tokenFault says why a token failed verification, so the token endpoint
// can answer OBO assertions with Entra's codes.
type tokenFault int

const (
	faultMalformed tokenFault = iota + 1
	faultSignature
	faultIssuer
	faultTime
	faultNotAccess
)

type verifyError struct {
	kind tokenFault
	msg  string
}

func (e *verifyError) Error() string { return e.msg }

// pairwiseSub is the per-application subject, as Entra's `sub` is.
func pairwiseSub(clientID, oid string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + oid))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func amr(mfa bool) []string {
	if mfa {
		return []string{"pwd", "mfa"}
	}
	return []string{"pwd"}
}

// sign serialises claims as a JWS signed with the current key.
func (p *Provider) sign(claims any) (string, error) {
	key, kid := p.signingKey()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("devidp: signer: %w", err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("devidp: sign: %w", err)
	}
	return s, nil
}

// issueAccess signs an access token for user u, issued to client c, for
// audience aud with scopes scp.
func (p *Provider) issueAccess(issuer string, c Client, u User, aud, scp string, mfa bool) (string, error) {
	now := p.now()
	exp := now.Add(p.atTTL)
	cl := accessTokenClaims{
		Aud: aud, Iss: issuer, Iat: now.Unix(), Nbf: now.Unix(), Exp: exp.Unix(),
		Amr: amr(mfa), Azp: c.ID, Azpacr: "1", Name: u.Name, OID: u.OID, PreferredUsername: u.UPN,
		Scp: scp, Sub: pairwiseSub(aud, u.OID), Tid: p.tenant, Upn: u.UPN,
		Uti: randomToken("")[:22], Ver: "2.0",
	}
	if u.Admin {
		cl.Wids = []string{PowerPlatformAdminRoleID}
	}
	return p.sign(cl)
}

// issueID signs an ID token for the sign-in si.
func (p *Provider) issueID(issuer string, c Client, u User, si signIn, nonce string) (string, error) {
	now := p.now()
	cl := idTokenClaims{
		Aud: c.ID, Iss: issuer, Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(p.idTTL).Unix(),
		AuthTime: si.authTime.Unix(), Amr: amr(si.mfa), Name: u.Name, Nonce: nonce, OID: u.OID,
		PreferredUsername: u.UPN, Sub: pairwiseSub(c.ID, u.OID), Tid: p.tenant, Upn: u.UPN,
		Uti: randomToken("")[:22], Ver: "2.0",
	}
	if slices.Contains(si.oidc, "email") {
		cl.Email = u.UPN
	}
	return p.sign(cl)
}

// verify checks a token's signature against the current key, its issuer
// with issuerOK, its lifetime against the clock and that it is an access
// token. The audience is the caller's to check.
func (p *Provider) verify(token string, issuerOK func(string) bool) (parsedClaims, error) {
	var pc parsedClaims
	if token == "" || len(token) > maxTokenLen {
		return pc, &verifyError{faultMalformed, "token is empty or too long"}
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return pc, &verifyError{faultMalformed, "token is not an RS256 JWS"}
	}
	key, kid := p.signingKey()
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID != kid {
		return pc, &verifyError{faultSignature, "token is signed with an unknown key"}
	}
	if err := tok.Claims(&key.PublicKey, &pc); err != nil {
		return pc, &verifyError{faultSignature, "token signature or payload is invalid"}
	}
	if !issuerOK(pc.Iss) {
		return pc, &verifyError{faultIssuer, fmt.Sprintf("issuer %q is not this provider's", pc.Iss)}
	}
	now := p.now()
	if pc.Exp == nil || !now.Before(pc.Exp.Time()) {
		return pc, &verifyError{faultTime, "token has expired"}
	}
	if pc.Nbf != nil && now.Before(pc.Nbf.Time()) {
		return pc, &verifyError{faultTime, "token is not valid yet"}
	}
	if pc.Scp == "" || pc.OID == "" || pc.Tid != p.tenant {
		return pc, &verifyError{faultNotAccess, "token is not a delegated access token of this tenant"}
	}
	return pc, nil
}

// knownIssuer reports whether iss is the override or the issuer of a base
// some Handler was made for.
func (p *Provider) knownIssuer(iss string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issuers[iss]
}

// ValidateAccessToken verifies an access token as a resource server would:
// signature by the provider's current key, an issuer of this provider, aud
// equal to audience, exp and nbf against the clock, and that it is a
// delegated access token (an ID token is refused). Failures wrap
// ErrInvalidToken.
func (p *Provider) ValidateAccessToken(token, audience string) (Claims, error) {
	pc, err := p.verify(token, p.knownIssuer)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if len(pc.Aud) != 1 || pc.Aud[0] != audience {
		return Claims{}, fmt.Errorf("%w: audience %q, want %q", ErrInvalidToken, []string(pc.Aud), audience)
	}
	return pc.public(), nil
}

// AuthorizeAPI is ValidateAccessToken plus the role check the Power
// Platform APIs make: a valid token without the administrator role in wids
// gets ErrNotAdmin (answer 403); an invalid one an ErrInvalidToken (401).
func (p *Provider) AuthorizeAPI(token, audience string) error {
	c, err := p.ValidateAccessToken(token, audience)
	if err != nil {
		return err
	}
	if !slices.Contains(c.Wids, PowerPlatformAdminRoleID) {
		return ErrNotAdmin
	}
	return nil
}

// errorsAsVerify unwraps a verifyError.
func errorsAsVerify(err error) (*verifyError, bool) {
	var ve *verifyError
	ok := errors.As(err, &ve)
	return ve, ok
}
