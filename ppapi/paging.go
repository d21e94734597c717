package ppapi

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// page is one page of a list. The service spells the link
// @odata.nextLink, @odata.nextlink (matched case-insensitively by
// encoding/json) or nextLink.
type page[T any] struct {
	Value         []T    `json:"value"`
	ODataNextLink string `json:"@odata.nextLink"`
	NextLink      string `json:"nextLink"`
}

func (p *page[T]) next() string {
	if l := strings.TrimSpace(p.ODataNextLink); l != "" {
		return l
	}
	return strings.TrimSpace(p.NextLink)
}

// listAll reads every page of a list, following nextLinks on the
// operation's own (or an allow-listed) host, at most c.maxPages pages.
func listAll[T any](ctx context.Context, c *Client, op operation, first *url.URL) ([]T, error) {
	all := []T{}
	seen := map[string]bool{first.String(): true}
	u := first
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, &kindError{op: op.id, msg: fmt.Sprintf("listing stopped at page %d", n), cause: err}
		}
		res, err := c.do(ctx, op, u, nil)
		if err != nil {
			return nil, err
		}
		var p page[T]
		if err := c.decode(op, res, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Value...)
		link := p.next()
		if link == "" {
			return all, nil
		}
		if n >= c.maxPages {
			return nil, &kindError{op: op.id, msg: fmt.Sprintf("more than %d pages", c.maxPages), kinds: []error{ErrTooManyPages}}
		}
		if u, err = c.resolveLink(op, u, link, "nextLink"); err != nil {
			return nil, err
		}
		c.ensureAPIVersion(op, u)
		if seen[u.String()] {
			return nil, &kindError{op: op.id, msg: fmt.Sprintf("nextLink of page %d repeats an earlier page", n), kinds: []error{ErrTooManyPages}}
		}
		seen[u.String()] = true
	}
}

// ensureAPIVersion adds op's api-version to a link that lacks one; a
// link's own api-version is kept.
func (c *Client) ensureAPIVersion(op operation, u *url.URL) {
	q := u.Query()
	if q.Get("api-version") == "" {
		q.Set("api-version", c.versions[op.id])
		u.RawQuery = encodeQuery(q)
	}
}
