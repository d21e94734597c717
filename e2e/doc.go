// Package e2e holds the portal's end-to-end tests: they build the portal
// from the working tree, start a real "portal demo" process on a loopback
// port, and drive it with headless Chromium (Debian's chromium package,
// through github.com/chromedp/chromedp). Every page a journey visits is
// checked with axe-core in light and dark mode, screenshotted at 1280 and
// 390 px, and watched for console errors and failed requests.
//
// The package has no code outside its tests; run it with go test ./e2e/.
// When /usr/bin/chromium is missing the tests fail, naming the package to
// install; they never skip.
package e2e
