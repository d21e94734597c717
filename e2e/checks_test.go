package e2e

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The two widths every page is screenshotted at, and the heights of their
// viewports (a laptop and a phone).
const (
	desktopWidth, desktopHeight = 1280, 800
	mobileWidth, mobileHeight   = 390, 844
	// maxShotHeight bounds a full-page screenshot.
	maxShotHeight = 4000
)

// axeSource is axe-core, vendored (see testdata/README.md). It is injected
// with Runtime.evaluate, which the page's CSP does not govern; the portal
// never serves it.
//
//go:embed testdata/axe.min.js
var axeSource string

// axeViolation is one failed axe rule with the nodes it failed on.
type axeViolation struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Nodes  []axeNode `json:"nodes"`
}

type axeNode struct {
	Target string `json:"target"`
	HTML   string `json:"html"`
}

func (v axeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for i, n := range v.Nodes {
		if i == 3 {
			fmt.Fprintf(&b, "\n      ... and %d more", len(v.Nodes)-3)
			break
		}
		fmt.Fprintf(&b, "\n      %s  %s", n.Target, n.HTML)
	}
	return b.String()
}

// axeRun is the script that runs axe on the whole document and returns
// its violations in the shape of axeViolation.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help,
	nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html.slice(0, 160)}))
})))`

// runAxe injects axe-core into the page when it is not there yet and
// returns every violation axe finds.
func runAxe(ctx context.Context) ([]axeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, fmt.Errorf("probing for axe: %w", err)
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
			return nil, fmt.Errorf("injecting axe-core: %w", err)
		}
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("running axe: %w", err)
	}
	return vs, nil
}

// severe keeps the serious and critical violations.
func severe(vs []axeViolation) []axeViolation {
	var out []axeViolation
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// setViewport sets the tab's size; mobile also makes the page honour its
// viewport meta tag, as a phone would.
func setViewport(width, height int64, mobile bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile,
		})
		return err
	})
}

// setColorScheme emulates prefers-color-scheme: light or dark.
func setColorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// screenshot captures the viewport, or the whole page up to maxShotHeight,
// as PNG.
func screenshot(width, height int64, mobile, fullPage bool) chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		if _, err := setViewport(width, height, mobile)(ctx, t); err != nil {
			return nil, err
		}
		if fullPage {
			h, err := chromedp.Evaluate[int64](`Math.ceil(document.documentElement.scrollHeight)`)(ctx, t)
			if err != nil {
				return nil, err
			}
			h = min(max(h, height), maxShotHeight)
			if h != height {
				if _, err := setViewport(width, h, mobile)(ctx, t); err != nil {
					return nil, err
				}
			}
		}
		res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, FromSurface: new(true),
		})
		return res.Data, err
	}
}

// assetsBroken lists the page's stylesheets that loaded no rules and its
// scripts that did not run: a failure the console does not always report
// (a stylesheet that arrives garbled is just empty). htmx and the portal's
// app script announce themselves through window.htmx and their tags.
const assetsBroken = `(() => {
	const bad = [];
	for (const l of document.querySelectorAll('link[rel=stylesheet]')) {
		let rules = 0;
		try { rules = l.sheet ? l.sheet.cssRules.length : 0; } catch (e) { rules = 0; }
		if (rules === 0) bad.push(l.href);
	}
	for (const s of document.querySelectorAll('script[src*="/htmx"]')) {
		if (typeof window.htmx !== "object") bad.push(s.src);
	}
	return bad;
})()`

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// check is what every page of every journey goes through: axe in light and
// dark mode (zero serious or critical violations), screenshots at 1280 and
// 390 px, and no console errors or failed requests so far. label names the
// page in messages and file names.
func (j *journey) check(label string) {
	j.t.Helper()
	j.pages++
	start := time.Now()
	defer func() { j.t.Logf("%s: checked %s in %s", j.name, label, time.Since(start).Round(time.Millisecond)) }()
	where := fmt.Sprintf("on %s (%s)", label, j.path())
	// Without its stylesheet and scripts no later step means anything:
	// stop here, with the console's view of why.
	if broken := eval[[]string](j, assetsBroken); len(broken) > 0 {
		j.assertClean(where)
		j.t.Fatalf("%s: assets that did not load %s = %q, want none", j.name, where, broken)
	}
	for _, scheme := range []string{"light", "dark"} {
		j.do("switch to "+scheme+" mode", setColorScheme(scheme))
		ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
		vs, err := runAxe(ctx)
		cancel()
		if err != nil {
			j.t.Fatalf("%s: axe %s in %s mode: %v", j.name, where, scheme, err)
		}
		if bad := severe(vs); len(bad) > 0 {
			var lines []string
			for _, v := range bad {
				lines = append(lines, v.String())
			}
			j.t.Errorf("%s: axe serious/critical violations %s in %s mode = %d, want 0:\n    %s",
				j.name, where, scheme, len(bad), strings.Join(lines, "\n    "))
		}
	}
	j.do("switch back to light mode", setColorScheme("light"))

	base := fmt.Sprintf("%s-%02d-%s", j.name, j.pages, unsafeName.ReplaceAllString(strings.ToLower(label), "-"))
	for _, v := range []struct {
		suffix        string
		width, height int64
		mobile        bool
	}{{"1280", desktopWidth, desktopHeight, false}, {"390", mobileWidth, mobileHeight, true}} {
		png := run(j, "screenshot at "+v.suffix+" px", screenshot(v.width, v.height, v.mobile, true))
		if err := os.WriteFile(filepath.Join(env.shots, base+"-"+v.suffix+".png"), png, 0o644); err != nil {
			j.t.Fatalf("%s: writing a screenshot: %v", j.name, err)
		}
	}
	j.do("restore the desktop viewport", setViewport(desktopWidth, desktopHeight, false))
	j.assertClean(where)
}

// docShot writes a viewport-only screenshot of the current page to
// docs/<name> for the README, only when E2E_UPDATE_DOCS=1.
func (j *journey) docShot(name string, mobile bool) {
	j.t.Helper()
	if !env.updateDocs {
		return
	}
	w, h := int64(desktopWidth), int64(desktopHeight)
	if mobile {
		w, h = mobileWidth, mobileHeight
	}
	png := run(j, "README screenshot "+name, screenshot(w, h, mobile, false))
	j.do("restore the desktop viewport", setViewport(desktopWidth, desktopHeight, false))
	if err := os.MkdirAll(env.docsDir, 0o755); err != nil {
		j.t.Fatal(err)
	}
	path := filepath.Join(env.docsDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		j.t.Fatal(err)
	}
	j.t.Logf("wrote %s (%d KB)", path, len(png)/1024)
}
