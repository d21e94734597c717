package main

// Fuzz target for the portal's configuration: arbitrary environment
// values. Seeds are the f.Add calls and testdata/fuzz/FuzzLoadConfig/.

import (
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

// fuzzConfigVars are the variables FuzzLoadConfig sets, in the order of
// its NUL-separated input. A *_FILE entry holds the file's content ("" for
// unset, "\x01" for a file that does not exist).
var fuzzConfigVars = []string{
	"PORTAL_ADDR", "PORTAL_BASE_URL", "PORTAL_TENANT_ID", "PORTAL_CLIENT_ID",
	"PORTAL_CLIENT_SECRET", "PORTAL_SESSION_KEY", "PORTAL_CLOUD", "PORTAL_AUTHORITY",
	"PORTAL_PPAPI_URL", "PORTAL_BAP_URL", "PORTAL_APP_SCOPE", "PORTAL_REDIS_URL",
	"PORTAL_SESSION_IDLE", "PORTAL_SESSION_MAX", "PORTAL_SHUTDOWN_TIMEOUT", "PORTAL_DEMO_SEED",
	"PORTAL_DEMO_ENVIRONMENTS", "PORTAL_DEMO_LATENCY",
	"PORTAL_CLIENT_SECRET_FILE", "PORTAL_SESSION_KEY_FILE", "PORTAL_REDIS_URL_FILE",
}

// fuzzSecretVars are the variables whose values must never be shown.
var fuzzSecretVars = []string{"PORTAL_CLIENT_SECRET", "PORTAL_SESSION_KEY", "PORTAL_REDIS_URL"}

func fuzzEnvInput(kv map[string]string) string {
	vals := make([]string, len(fuzzConfigVars))
	for i, k := range fuzzConfigVars {
		vals[i] = kv[k]
	}
	return strings.Join(vals, "\x00")
}

// mask replaces every character of a secret except commas and spaces
// (which the validation looks at) with as many bytes of 'Z'.
func mask(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == ',' || unicode.IsSpace(r) {
			b.WriteRune(r)
			continue
		}
		b.WriteString(strings.Repeat("Z", len(string(r))))
	}
	return b.String()
}

// FuzzLoadConfig loads arbitrary environments for serve and demo: never a
// panic; either a Config that holds every documented invariant, or a
// configError whose every line names a PORTAL_ variable; and no secret
// value ever appears in the error or the start-up dump.
func FuzzLoadConfig(f *testing.F) {
	good := map[string]string{
		"PORTAL_TENANT_ID": "11111111-2222-4333-8444-555555555555", "PORTAL_CLIENT_ID": "client",
		"PORTAL_CLIENT_SECRET": "the-client-secret-value", "PORTAL_SESSION_KEY": strings.Repeat("k", 40) + ", " + strings.Repeat("o", 32),
		"PORTAL_BASE_URL": "https://portal.example", "PORTAL_REDIS_URL": "redis://:hunter2hunter2@127.0.0.1:6379/0",
	}
	f.Add(fuzzEnvInput(good), true)
	f.Add(fuzzEnvInput(good), false)
	f.Add(fuzzEnvInput(nil), true)
	f.Add(fuzzEnvInput(nil), false)
	for _, kv := range []map[string]string{
		{"PORTAL_CLOUD": "mars", "PORTAL_SESSION_IDLE": "forever", "PORTAL_SESSION_MAX": "-1h", "PORTAL_SHUTDOWN_TIMEOUT": "0"},
		{"PORTAL_SESSION_IDLE": "13h", "PORTAL_DEMO_SEED": "9223372036854775808", "PORTAL_DEMO_ENVIRONMENTS": "100001", "PORTAL_DEMO_LATENCY": "61s"},
		{"PORTAL_ADDR": "no-port", "PORTAL_BASE_URL": "http://user:pw@evil.example", "PORTAL_REDIS_URL": "http://secret-redis-host"},
		{"PORTAL_AUTHORITY": "http://login.example", "PORTAL_PPAPI_URL": "ftp://x", "PORTAL_BAP_URL": "%zz", "PORTAL_CLOUD": "china"},
		{"PORTAL_CLIENT_SECRET": "both-set-secret", "PORTAL_CLIENT_SECRET_FILE": "file-secret-content\n", "PORTAL_SESSION_KEY_FILE": "\x01"},
		{"PORTAL_SESSION_KEY": "short-key-value, ,", "PORTAL_REDIS_URL_FILE": "rediss://:pw-in-file-123@r.example:6380"},
		{"PORTAL_ADDR": "[::1]:0", "PORTAL_BASE_URL": "http://[::1]:8080/", "PORTAL_CLOUD": "gcchigh", "PORTAL_DEMO_LATENCY": "1m"},
	} {
		f.Add(fuzzEnvInput(kv), true)
		f.Add(fuzzEnvInput(kv), false)
	}
	f.Fuzz(func(t *testing.T, input string, serve bool) {
		vals := strings.Split(input, "\x00")
		dir := t.TempDir()
		build := func(hide bool) map[string]string {
			m := map[string]string{}
			for i, k := range fuzzConfigVars {
				if i >= len(vals) || vals[i] == "" {
					continue
				}
				v := vals[i]
				secret := strings.HasSuffix(k, "_FILE")
				for _, s := range fuzzSecretVars {
					secret = secret || k == s
				}
				if hide && secret && v != "\x01" {
					v = mask(v)
				}
				if strings.HasSuffix(k, "_FILE") {
					p := filepath.Join(dir, k)
					if hide {
						p += ".masked"
					}
					if v == "\x01" {
						p += ".missing"
					} else if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
						t.Fatal(err)
					}
					v = p
				}
				m[k] = v
			}
			return m
		}
		cmd := "demo"
		if serve {
			cmd = "serve"
		}
		load := func(m map[string]string) (Config, error) {
			return loadConfig(cmd, nil, func(k string) string { return m[k] }, io.Discard)
		}
		plain := build(false)
		cfg, err := load(plain)
		if err != nil {
			var ce *configError
			if !errors.As(err, &ce) || len(ce.problems) == 0 {
				t.Fatalf("loadConfig(%s, %q) error %v, want a configError", cmd, plain, err)
			}
			for _, p := range ce.problems {
				if !strings.Contains(p, "PORTAL_") {
					t.Fatalf("loadConfig(%s, %q): problem %q names no PORTAL_ variable", cmd, plain, p)
				}
			}
		} else {
			checkConfig(t, cmd, plain, cfg)
		}

		// No secret shows: compare with the same environment whose secrets
		// are masked; a secret in the first output and not in the second
		// came from the secret.
		masked := build(true)
		cfg2, err2 := load(masked)
		var shown, shownMasked string
		if err != nil {
			shown = err.Error()
		}
		if err2 != nil {
			shownMasked = err2.Error()
		}
		shown += "\n" + cfg.dump()
		shownMasked += "\n" + cfg2.dump()
		for _, k := range fuzzSecretVars {
			for _, s := range []string{vals0(vals, k), fileContent(vals, k+"_FILE")} {
				for _, part := range append(strings.Split(s, ","), s) {
					part = strings.TrimSpace(part)
					if len(part) >= 8 && strings.Contains(shown, part) && !strings.Contains(shownMasked, part) {
						t.Fatalf("loadConfig(%s, %q) shows the secret %s value %q:\n%s", cmd, plain, k, part, shown)
					}
				}
			}
		}
	})
}

// vals0 is the input value of variable k.
func vals0(vals []string, k string) string {
	for i, name := range fuzzConfigVars {
		if name == k && i < len(vals) {
			return vals[i]
		}
	}
	return ""
}

// fileContent is the content of a *_FILE variable's file, trimmed as
// loadConfig trims it.
func fileContent(vals []string, k string) string {
	v := vals0(vals, k)
	if v == "\x01" {
		return ""
	}
	return strings.TrimSpace(v)
}

// checkConfig fails unless cfg holds what loadConfig promises of a
// configuration it accepts.
func checkConfig(t *testing.T, cmd string, env map[string]string, cfg Config) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("loadConfig(%s, %q) accepted: "+format, append([]any{cmd, env}, args...)...)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		fail("Addr %q is not host:port", cfg.Addr)
	}
	if cfg.IdleTimeout <= 0 || cfg.AbsoluteTimeout <= 0 || cfg.ShutdownTimeout <= 0 || cfg.IdleTimeout > cfg.AbsoluteTimeout {
		fail("timeouts idle %v, max %v, shutdown %v", cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.ShutdownTimeout)
	}
	if cfg.DemoEnvironments < 1 || cfg.DemoEnvironments > 100000 || cfg.DemoLatency < 0 || cfg.DemoLatency > time.Minute {
		fail("demo environments %d, latency %v", cfg.DemoEnvironments, cfg.DemoLatency)
	}
	if _, ok := clouds[cfg.Cloud]; !ok || cfg.PPAPIScope == "" || cfg.BAPScope == "" {
		fail("cloud %q with scopes %q, %q", cfg.Cloud, cfg.PPAPIScope, cfg.BAPScope)
	}
	if cfg.RedisURL != "" {
		u, err := url.Parse(cfg.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			fail("Redis URL of scheme %v", u)
		}
	}
	if cfg.BaseURL != "" && checkURL(cfg.BaseURL, false) != "" {
		fail("base URL %q", cfg.BaseURL)
	}
	if cmd != "serve" {
		return
	}
	if cfg.TenantID == "" || cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.SessionKey == "" {
		fail("a required setting is empty")
	}
	for _, u := range []string{cfg.Authority, cfg.PPAPIURL, cfg.BAPURL} {
		if msg := checkURL(u, true); msg != "" {
			fail("endpoint %q: %s", u, msg)
		}
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		fail("base URL %q is neither https nor loopback http", cfg.BaseURL)
	}
	if _, _, err := sessionKeys(cfg.SessionKey); err != nil {
		fail("session keys unusable: %v", err)
	}
}
