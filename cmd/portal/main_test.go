package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestServeRefusesToStartNamingEveryMissingSetting(t *testing.T) {
	err := run(context.Background(), []string{"portal", "serve"}, env(nil), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve with no configuration started")
	}
	for _, name := range []string{"PORTAL_TENANT_ID", "PORTAL_CLIENT_ID", "PORTAL_CLIENT_SECRET", "PORTAL_SESSION_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestConfigProblemsAreReportedTogether(t *testing.T) {
	_, err := loadConfig("serve", nil, env(map[string]string{
		"PORTAL_TENANT_ID": "t", "PORTAL_CLIENT_ID": "c", "PORTAL_CLIENT_SECRET": "s",
		"PORTAL_SESSION_KEY": "short", "PORTAL_CLOUD": "mars", "PORTAL_SESSION_IDLE": "forever",
		"PORTAL_BASE_URL": "http://portal.example.com", "PORTAL_REDIS_URL": "http://x",
	}), io.Discard)
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("loadConfig = %v, want a configError", err)
	}
	for _, want := range []string{"PORTAL_SESSION_KEY", "PORTAL_CLOUD", "PORTAL_SESSION_IDLE", "PORTAL_BASE_URL", "PORTAL_REDIS_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestConfigSecretsFromFilesAndNeverDumped(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(secretFile, []byte("the-client-secret\n"), 0o600)
	os.WriteFile(keyFile, []byte(strings.Repeat("k", 40)), 0o600)
	cfg, err := loadConfig("serve", []string{"-tenant-id", "flag-tenant"}, env(map[string]string{
		"PORTAL_TENANT_ID": "env-tenant", "PORTAL_CLIENT_ID": "c",
		"PORTAL_CLIENT_SECRET_FILE": secretFile, "PORTAL_SESSION_KEY_FILE": keyFile,
		"PORTAL_REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0",
	}), io.Discard)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if cfg.ClientSecret != "the-client-secret" || cfg.TenantID != "flag-tenant" {
		t.Errorf("secret %q tenant %q, want the file's secret and the flag's tenant", cfg.ClientSecret, cfg.TenantID)
	}
	if cfg.PPAPIScope != "https://api.powerplatform.com/.default" || cfg.BAPScope != "https://service.powerapps.com/.default" {
		t.Errorf("public cloud scopes = %q, %q", cfg.PPAPIScope, cfg.BAPScope)
	}
	d := cfg.dump()
	for _, secret := range []string{"the-client-secret", strings.Repeat("k", 40), "hunter2"} {
		if strings.Contains(d, secret) {
			t.Errorf("the configuration dump shows a secret: %s", d)
		}
	}
}

func TestSessionKeysRotate(t *testing.T) {
	pairs, enc, err := sessionKeys(strings.Repeat("n", 32) + "," + strings.Repeat("o", 32))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 4 || len(enc) != 32 {
		t.Fatalf("sessionKeys: %d keys and a %d-byte encryption key, want 2 pairs and 32", len(pairs), len(enc))
	}
	newOnly, _, _ := sessionKeys(strings.Repeat("n", 32))
	if string(newOnly[0]) != string(pairs[0]) {
		t.Error("the newest key must come first, unchanged by older ones")
	}
}

// TestDemoStartsServesAndShutsDown runs the demo command as main would:
// it must serve the sign-in redirect and readiness, then drain and return
// when its context ends.
func TestDemoStartsServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"portal", "demo"}, env(map[string]string{"PORTAL_ADDR": "127.0.0.1:0"}), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the demo's banner: %v", err)
	}
	go io.Copy(io.Discard, pr)
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("banner %q has no URL", line)
	}
	pageURL := strings.TrimSpace(line[i:])
	base := strings.TrimSuffix(pageURL, "/environments")

	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		path string
		want int
	}{{"/healthz", 200}, {"/readyz", 200}, {"/environments", 302}} {
		resp, err := client.Get(base + c.path)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s = %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo returned %v after shutdown, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not shut down")
	}
}
