package devidp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
)

// pageCSS is the only style of the pages. The CSP allows it by hash, so the
// pages need no inline script or style attribute.
const pageCSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f5f5;color:#1b1b1b}
main{max-width:32rem;margin:3rem auto;padding:1.5rem 2rem;background:#fff;border:1px solid #ccc;border-radius:6px}
h1{font-size:1.4rem;margin-top:0}
ul{list-style:none;padding:0}
li{margin:.5rem 0}
button{font:inherit;width:100%;text-align:left;padding:.6rem .8rem;border:1px solid #767676;border-radius:4px;background:#fff;cursor:pointer}
button:hover,button:focus-visible{background:#eef4fb;outline:3px solid #0f6cbd;outline-offset:1px}
.upn,.note{display:block;font-size:.9rem;color:#444}
.cancel{width:auto;margin-top:1rem}
.notice{border-left:4px solid #0f6cbd;padding:.25rem .75rem;background:#eef4fb}`

var styleHash = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

const layoutHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{template "title" .}} · Dev identity provider</title>
<style>` + pageCSS + `</style>
</head>
<body>
<main>
{{template "content" .}}
</main>
</body>
</html>
`

type pickerData struct {
	Action     string
	ClientName string
	Hidden     []nameValue
	Users      []pickerUser
	Claims     bool
}

type pickerUser struct {
	OID, Name, UPN, Note string
	Hinted               bool
}

var pickerTmpl = template.Must(template.New("layout").Parse(layoutHTML + `
{{define "title"}}Choose an account{{end}}
{{define "content"}}<h1>Dev identity provider — choose an account</h1>
<p><strong>{{.ClientName}}</strong> asks you to sign in. This development identity provider asks for no password: pick an account.</p>
{{if .Claims}}<p class="notice" role="status" data-testid="claims-notice">The app asked for additional verification (a claims challenge). Picking an account completes it.</p>{{end}}
<form method="post" action="{{.Action}}">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<ul aria-label="Accounts">
{{range .Users}}<li><button type="submit" name="user" value="{{.OID}}" data-testid="account"{{if .Hinted}} autofocus{{end}}><span class="name">{{.Name}}{{if .Hinted}} (suggested){{end}}</span> <span class="upn">{{.UPN}}</span> <span class="note">{{.Note}}</span></button></li>
{{end}}</ul>
<button type="submit" name="cancel" value="1" class="cancel" data-testid="cancel">Cancel</button>
</form>{{end}}`))

var errorTmpl = template.Must(template.New("layout").Parse(layoutHTML + `
{{define "title"}}Sign-in error{{end}}
{{define "content"}}<h1>Sign-in error</h1>
<p role="alert" data-testid="error"><strong>{{.Code}}</strong>: {{.Text}}</p>
<p>The request was not sent back to the application.</p>{{end}}`))

var signedOutTmpl = template.Must(template.New("layout").Parse(layoutHTML + `
{{define "title"}}Signed out{{end}}
{{define "content"}}<h1>You have signed out</h1>
<p data-testid="signed-out">You can close this window.</p>{{end}}`))

// setPageHeaders sets a strict CSP (no script at all; the page style by
// hash; forms may post only to formAction) and the usual hardening headers.
func setPageHeaders(w http.ResponseWriter, formAction string) {
	if formAction == "" {
		formAction = "'none'"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+styleHash+"; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// renderPage renders into a buffer and writes only on success.
func (s *server) renderPage(w http.ResponseWriter, status int, formAction string, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "devidp: render page", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w, formAction)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows an error without redirecting anywhere.
func (s *server) errorPage(w http.ResponseWriter, _ *http.Request, e oauthError) {
	s.renderPage(w, e.status, "", errorTmpl, struct{ Code, Text string }{e.code, aadstsText(e)})
}
