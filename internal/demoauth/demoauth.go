// Package demoauth signs a browser-like HTTP client in to the portal
// through the dev identity provider's account picker, as a person does in
// `portal demo`: fetch a signed-in page, follow the redirects to the
// picker, choose an account, follow the redirects back. The test harness
// (internal/portaltest) and the load tool (cmd/loadtest) both walk the
// picker with it.
package demoauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// maxBody bounds what SignIn reads of one response.
const maxBody = 8 << 20

// maxHops bounds the redirects SignIn follows in each direction.
const maxHops = 10

// NewClient returns a client with a cookie jar of its own that does not
// follow redirects on its own, so every hop is visible to the caller.
func NewClient(timeout time.Duration) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// PickRequest builds the form post that chooses the account upn on a dev
// identity provider picker page, given the page's URL and HTML. It carries
// the page form's hidden fields, as the browser would.
func PickRequest(pickerURL *url.URL, page io.Reader, upn string) (*http.Request, error) {
	doc, err := goquery.NewDocumentFromReader(page)
	if err != nil {
		return nil, fmt.Errorf("demoauth: picker page: %w", err)
	}
	form := doc.Find("form").First()
	if form.Length() == 0 {
		return nil, errors.New("demoauth: no form on the picker page")
	}
	action, _ := form.Attr("action")
	vals := url.Values{}
	form.Find("input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		v, _ := s.Attr("value")
		vals.Set(n, v)
	})
	found := false
	form.Find("button[name=user]").Each(func(_ int, s *goquery.Selection) {
		if strings.TrimSpace(s.Find(".upn").Text()) == upn {
			v, _ := s.Attr("value")
			vals.Set("user", v)
			found = true
		}
	})
	if !found {
		return nil, fmt.Errorf("demoauth: no account %q on the picker page", upn)
	}
	to, err := pickerURL.Parse(action)
	if err != nil {
		return nil, fmt.Errorf("demoauth: bad form action %q", action)
	}
	req, err := http.NewRequest(http.MethodPost, to.String(), strings.NewReader(vals.Encode()))
	if err != nil {
		return nil, fmt.Errorf("demoauth: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// Page is the last response of a walk, read whole.
type Page struct {
	URL    *url.URL
	Status int
	Body   []byte
}

// SignIn signs c in as upn: it fetches portalURL+path, follows the
// redirects, which must reach a page under idpURL (the picker), picks the
// account and follows the redirects back. It returns the page the portal
// lands on; a status other than 200 there is an error.
func SignIn(ctx context.Context, c *http.Client, portalURL, path, idpURL, upn string) (*Page, error) {
	start, err := http.NewRequestWithContext(ctx, http.MethodGet, portalURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("demoauth: %w", err)
	}
	p, err := follow(ctx, c, start)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(p.URL.String(), idpURL) {
		return nil, fmt.Errorf("demoauth: %s landed on %s (status %d), want the identity provider's picker", path, p.URL, p.Status)
	}
	req, err := PickRequest(p.URL, strings.NewReader(string(p.Body)), upn)
	if err != nil {
		return nil, err
	}
	p, err = follow(ctx, c, req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if p.Status != http.StatusOK {
		return p, fmt.Errorf("demoauth: signed in as %s but %s answered %d", upn, p.URL, p.Status)
	}
	return p, nil
}

// follow sends req and follows redirects, up to maxHops, reading each
// body whole.
func follow(ctx context.Context, c *http.Client, req *http.Request) (*Page, error) {
	for hop := 0; ; hop++ {
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("demoauth: %s %s: %w", req.Method, req.URL, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("demoauth: reading %s: %w", req.URL, err)
		}
		p := &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: body}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return p, nil
		}
		if hop == maxHops {
			return nil, fmt.Errorf("demoauth: more than %d redirects from %s", maxHops, req.URL)
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return nil, fmt.Errorf("demoauth: bad Location %q", resp.Header.Get("Location"))
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("demoauth: %w", err)
		}
	}
}
