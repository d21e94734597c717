package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// demoSeed is the simulated tenant's seed; journeys rebuild the same
// tenant to learn ids a user would copy from elsewhere.
const demoSeed = 1

// suite is what TestMain sets up once for the package: one portal process
// and one browser process. Journeys get a fresh browser context each.
type suite struct {
	base        string          // the portal's base URL, http://127.0.0.1:<port>
	browser     context.Context // a chromedp context whose browser runs
	shots       string          // the screenshot folder
	portalLog   string          // the portal's stderr (JSON logs)
	browserLog  string          // the browser's stdout and stderr
	updateDocs  bool            // E2E_UPDATE_DOCS=1: rewrite the README's PNGs
	docsDir     string          // <module root>/docs
	moduleRoot  string          // the directory of go.mod
	portalStart time.Duration   // how long build + start + /readyz took
}

// env is the package's suite; TestMain sets it before any test runs.
var env *suite

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain sets the suite up, runs the tests and tears everything down; its
// result is the process's exit code.
func runMain(m *testing.M) int {
	if _, err := os.Stat(chromiumPath); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: no Chromium at %s (%v).\n"+
			"e2e: The end-to-end tests need the Debian package chromium: apt-get install chromium\n", chromiumPath, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "portal-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	failed := true
	defer func() {
		if failed {
			fmt.Fprintf(os.Stderr, "e2e: logs kept in %s\n", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()

	s := &suite{
		portalLog:  filepath.Join(tmp, "portal.log"),
		browserLog: filepath.Join(tmp, "chromium.log"),
		updateDocs: os.Getenv("E2E_UPDATE_DOCS") == "1",
	}
	if s.shots, err = screenshotDir(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}

	start := time.Now()
	if s.moduleRoot, err = moduleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	s.docsDir = filepath.Join(s.moduleRoot, "docs")
	// E2E_PORTAL_BIN runs a binary built elsewhere (a release build, or a
	// snapshot while the tree is mid-edit); by default the tests build the
	// working tree.
	bin := os.Getenv("E2E_PORTAL_BIN")
	if bin == "" {
		bin = filepath.Join(tmp, "portal")
		if err := buildPortal(s.moduleRoot, bin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
			return 1
		}
	}
	p, err := startPortal(bin, s.portalLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	defer func() {
		if err := p.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
			failed = true
		}
	}()
	s.base = p.base
	s.portalStart = time.Since(start)

	browserLog, err := os.Create(s.browserLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	defer browserLog.Close()
	browser, stopBrowser, err := startBrowser(filepath.Join(tmp, "profile"), browserLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: starting Chromium:", err)
		return 1
	}
	defer stopBrowser()
	s.browser = browser

	env = s
	fmt.Printf("e2e: portal %s (built and ready in %s); screenshots in %s\n",
		s.base, s.portalStart.Round(time.Millisecond), s.shots)
	code := m.Run()
	failed = code != 0
	return code
}

// screenshotDir returns $E2E_SCREENSHOTS, or a folder of its own under the
// system temporary directory, emptied first so it holds only this run.
func screenshotDir() (string, error) {
	if dir := os.Getenv("E2E_SCREENSHOTS"); dir != "" {
		return dir, os.MkdirAll(dir, 0o755)
	}
	dir := filepath.Join(os.TempDir(), "portal-screenshots")
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// moduleRoot returns the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// buildPortal builds ./cmd/portal from the working tree into bin.
func buildPortal(root, bin string) error {
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/portal")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/portal: %v\n%s", err, out)
	}
	return nil
}

// portalProc is a running "portal demo".
type portalProc struct {
	cmd    *exec.Cmd
	base   string
	exited chan error
}

// demoLine is the first line "portal demo" prints; it carries the base URL.
var demoLine = regexp.MustCompile(`^Portal demo: open (http://127\.0\.0\.1:\d+)/environments$`)

// startPortal starts "portal demo" on a free loopback port (PORTAL_ADDR
// 127.0.0.1:0), reads the base URL it prints, and waits until /readyz
// answers 200. Its JSON logs go to logPath.
func startPortal(bin, logPath string) (*portalProc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "demo")
	// Only this test's settings: a PORTAL_* variable from the caller's
	// shell (a base URL, a Redis URL) must not change the demo.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTAL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PORTAL_ADDR=127.0.0.1:0", "PORTAL_SHUTDOWN_TIMEOUT=5s",
		fmt.Sprintf("PORTAL_DEMO_SEED=%d", demoSeed))
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting portal demo: %w", err)
	}
	p := &portalProc{cmd: cmd, exited: make(chan error, 1)}
	baseCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if m := demoLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				baseCh <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.exited <- cmd.Wait()
		logFile.Close()
	}()

	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case p.base = <-baseCh:
	case err := <-p.exited:
		p.exited <- err
		return nil, fmt.Errorf("portal demo exited before printing its URL: %v (logs: %s)", err, logPath)
	case <-timeout.C:
		p.stop()
		return nil, fmt.Errorf("portal demo printed no URL within 30s (logs: %s)", logPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitReady(ctx, p.base+"/readyz", p.exited); err != nil {
		p.stop()
		return nil, fmt.Errorf("portal demo at %s: %w (logs: %s)", p.base, err, logPath)
	}
	return p, nil
}

// waitReady polls url until it answers 200, the process exits, or ctx ends.
func waitReady(ctx context.Context, url string, exited chan error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited while waiting for /readyz: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("/readyz not ready: %s", last)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for the portal to finish its graceful
// shutdown; after 20 s it kills the process.
func (p *portalProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("portal demo: SIGTERM: %w", err)
	}
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			return fmt.Errorf("portal demo did not exit cleanly on SIGTERM: %w", err)
		}
		return nil
	case <-timeout.C:
		p.cmd.Process.Kill()
		return errors.New("portal demo: still running 20s after SIGTERM; killed")
	}
}

// startBrowser starts one headless Chromium for the whole package, with a
// fresh profile in dataDir. The flags are exactly the ones an offline,
// root-run CI machine needs; chromedp's DefaultExecAllocatorOptions are not
// used, so nothing else (no extra features, no network services) is added.
// chromedp adds only --remote-debugging-pipe and the first page,
// about:blank.
func startBrowser(dataDir string, out io.Writer) (context.Context, func(), error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // the CI machine runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dataDir),
		chromedp.CombinedOutput(out),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	stop := func() {
		cancel()
		cancelAlloc()
	}
	// The first Do starts the browser; its context has no deadline, as
	// chromedp asks, so a bounded wait runs beside it.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	select {
	case err := <-started:
		if err != nil {
			stop()
			return nil, nil, err
		}
	case <-timeout.C:
		stop()
		return nil, nil, errors.New("chromium did not start within 60s")
	}
	return ctx, stop, nil
}
