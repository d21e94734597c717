package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// cloud holds the endpoints and token scopes of one Microsoft cloud.
type cloud struct {
	Authority, PPAPI, BAP string
	// PPAPIScope and BAPScope are the on-behalf-of scopes of the two
	// endpoints (REAL-API.md §1): one audience per endpoint.
	PPAPIScope, BAPScope string
}

// clouds follows the sovereign-cloud table of Microsoft's Terraform provider
// (internal/constants/constants.go), as summarised in REAL-API.md §1.
var clouds = map[string]cloud{
	"public": {
		Authority: "https://login.microsoftonline.com", PPAPI: "https://api.powerplatform.com", BAP: "https://api.bap.microsoft.com",
		PPAPIScope: "https://api.powerplatform.com/.default", BAPScope: "https://service.powerapps.com/.default",
	},
	"gcc": {
		Authority: "https://login.microsoftonline.com", PPAPI: "https://api.gov.powerplatform.microsoft.us", BAP: "https://gov.api.bap.microsoft.us",
		PPAPIScope: "https://api.gov.powerplatform.microsoft.us/.default", BAPScope: "https://gov.service.powerapps.us/.default",
	},
	"gcchigh": {
		Authority: "https://login.microsoftonline.us", PPAPI: "https://api.high.powerplatform.microsoft.us", BAP: "https://high.api.bap.microsoft.us",
		PPAPIScope: "https://api.high.powerplatform.microsoft.us/.default", BAPScope: "https://high.service.powerapps.us/.default",
	},
	"dod": {
		Authority: "https://login.microsoftonline.us", PPAPI: "https://api.appsplatform.us", BAP: "https://api.bap.appsplatform.us",
		PPAPIScope: "https://api.appsplatform.us/.default", BAPScope: "https://service.apps.appsplatform.us/.default",
	},
	"china": {
		Authority: "https://login.chinacloudapi.cn", PPAPI: "https://api.powerplatform.partner.microsoftonline.cn", BAP: "https://api.bap.partner.microsoftonline.cn",
		PPAPIScope: "https://api.powerplatform.partner.microsoftonline.cn/.default", BAPScope: "https://service.powerapps.cn/.default",
	},
}

// Config is the portal's whole configuration, from environment variables
// (DESIGN.md's table) and the flags of the same names. Secrets are tagged
// json:"-" so that the start-up dump never shows them.
type Config struct {
	Addr            string        `json:"addr"`
	BaseURL         string        `json:"base_url"`
	TenantID        string        `json:"tenant_id"`
	ClientID        string        `json:"client_id"`
	ClientSecret    string        `json:"-"`
	SessionKey      string        `json:"-"`
	Cloud           string        `json:"cloud"`
	Authority       string        `json:"authority"`
	PPAPIURL        string        `json:"ppapi_url"`
	BAPURL          string        `json:"bap_url"`
	AppScope        string        `json:"app_scope"`
	RedisURL        string        `json:"-"`
	IdleTimeout     time.Duration `json:"session_idle"`
	AbsoluteTimeout time.Duration `json:"session_max"`
	ShutdownTimeout time.Duration `json:"shutdown_timeout"`
	MetricsAddr     string        `json:"metrics_addr"`

	// Demo-only settings of the simulated tenant.
	DemoSeed         int64         `json:"demo_seed"`
	DemoEnvironments int           `json:"demo_environments"`
	DemoLatency      time.Duration `json:"demo_latency"`

	// Scopes of the two endpoints, from the cloud.
	PPAPIScope string `json:"ppapi_scope"`
	BAPScope   string `json:"bap_scope"`
}

// setting is one configuration entry: its variable, flag, default and
// where it lands.
type setting struct {
	env, flag, def, usage string
	secret                bool
	dst                   *string
}

func (c *Config) settings(raw map[string]*string) []setting {
	return []setting{
		{env: "PORTAL_ADDR", flag: "addr", def: "127.0.0.1:8080", usage: "listen address", dst: raw["addr"]},
		{env: "PORTAL_BASE_URL", flag: "base-url", usage: "external URL; the redirect URI is BASE_URL/auth/callback (default http://<addr>)", dst: raw["base"]},
		{env: "PORTAL_TENANT_ID", flag: "tenant-id", usage: "Entra tenant id (required for serve)", dst: raw["tenant"]},
		{env: "PORTAL_CLIENT_ID", flag: "client-id", usage: "app registration's client id (required for serve)", dst: raw["client"]},
		{env: "PORTAL_CLIENT_SECRET", flag: "client-secret", usage: "client secret (or PORTAL_CLIENT_SECRET_FILE)", secret: true, dst: raw["secret"]},
		{env: "PORTAL_SESSION_KEY", flag: "session-key", usage: "key(s) for cookies and stored tokens, >= 32 bytes; comma-separated, newest first, for rotation (or PORTAL_SESSION_KEY_FILE)", secret: true, dst: raw["key"]},
		{env: "PORTAL_CLOUD", flag: "cloud", def: "public", usage: "public, gcc, gcchigh, dod or china", dst: raw["cloud"]},
		{env: "PORTAL_AUTHORITY", flag: "authority", usage: "identity provider root (default by cloud)", dst: raw["authority"]},
		{env: "PORTAL_PPAPI_URL", flag: "ppapi-url", usage: "Power Platform API (unified endpoint) URL (default by cloud)", dst: raw["ppapi"]},
		{env: "PORTAL_BAP_URL", flag: "bap-url", usage: "BAP endpoint URL (default by cloud)", dst: raw["bap"]},
		{env: "PORTAL_APP_SCOPE", flag: "app-scope", usage: "the portal's own API scope (default api://<client id>/access_as_user)", dst: raw["appscope"]},
		{env: "PORTAL_REDIS_URL", flag: "redis-url", usage: "Redis URL for shared sessions (default: in memory)", secret: true, dst: raw["redis"]},
		{env: "PORTAL_SESSION_IDLE", flag: "session-idle", def: "30m", usage: "session idle timeout", dst: raw["idle"]},
		{env: "PORTAL_SESSION_MAX", flag: "session-max", def: "12h", usage: "session absolute timeout", dst: raw["max"]},
		{env: "PORTAL_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "25s", usage: "how long in-flight requests may finish at shutdown", dst: raw["shutdown"]},
		{env: "PORTAL_METRICS_ADDR", flag: "metrics-addr", usage: "a separate listen address serving /metrics to scrapers without sign-in (default: none; signed-in admins can read /metrics on the main address)", dst: raw["metrics"]},
		{env: "PORTAL_DEMO_SEED", flag: "demo-seed", def: "1", usage: "demo only: the simulated tenant's seed", dst: raw["seed"]},
		{env: "PORTAL_DEMO_ENVIRONMENTS", flag: "demo-environments", def: "14", usage: "demo only: how many environments the simulated tenant has", dst: raw["envs"]},
		{env: "PORTAL_DEMO_LATENCY", flag: "demo-latency", def: "0s", usage: "demo only: latency the simulator adds to every response", dst: raw["latency"]},
	}
}

// loadConfig reads the environment through getenv, then flags (which win),
// and reports every problem at once, each naming its variable. serve needs
// the Entra settings; demo supplies its own.
func loadConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	raw := map[string]*string{}
	for _, k := range []string{"addr", "base", "tenant", "client", "secret", "key", "cloud", "authority", "ppapi", "bap", "appscope", "redis", "idle", "max", "shutdown", "seed", "envs", "latency", "metrics"} {
		raw[k] = new(string)
	}
	var c Config
	fs := flag.NewFlagSet("portal "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var problems []string
	for _, s := range c.settings(raw) {
		v := getenv(s.env)
		if s.secret {
			if f := getenv(s.env + "_FILE"); f != "" {
				if v != "" {
					problems = append(problems, fmt.Sprintf("%s and %s_FILE are both set; set one", s.env, s.env))
				}
				b, err := os.ReadFile(f) // #nosec G304 -- reading the file an operator names in PORTAL_*_FILE is the feature (secrets from mounted files)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s_FILE: cannot read the file", s.env))
				}
				v = strings.TrimSpace(string(b))
			}
		}
		if v == "" {
			v = s.def
		}
		fs.StringVar(s.dst, s.flag, v, s.usage+" ($"+s.env+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: portal %s [flags]\n\n%s\n\nEvery flag can also be set by the environment variable named after it.\n\n", cmd, commandHelp[cmd])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}

	c.Addr, c.BaseURL = *raw["addr"], *raw["base"]
	c.TenantID, c.ClientID, c.ClientSecret, c.SessionKey = *raw["tenant"], *raw["client"], *raw["secret"], *raw["key"]
	c.Cloud, c.Authority, c.PPAPIURL, c.BAPURL = *raw["cloud"], *raw["authority"], *raw["ppapi"], *raw["bap"]
	c.AppScope, c.RedisURL, c.MetricsAddr = *raw["appscope"], *raw["redis"], *raw["metrics"]

	cl, ok := clouds[c.Cloud]
	if !ok {
		problems = append(problems, fmt.Sprintf("PORTAL_CLOUD: %q is not one of public, gcc, gcchigh, dod, china", c.Cloud))
	}
	c.PPAPIScope, c.BAPScope = cl.PPAPIScope, cl.BAPScope
	if c.Authority == "" {
		c.Authority = cl.Authority
	}
	if c.PPAPIURL == "" {
		c.PPAPIURL = cl.PPAPI
	}
	if c.BAPURL == "" {
		c.BAPURL = cl.BAP
	}
	for _, d := range []struct {
		env string
		src string
		dst *time.Duration
	}{{"PORTAL_SESSION_IDLE", *raw["idle"], &c.IdleTimeout}, {"PORTAL_SESSION_MAX", *raw["max"], &c.AbsoluteTimeout}, {"PORTAL_SHUTDOWN_TIMEOUT", *raw["shutdown"], &c.ShutdownTimeout}} {
		v, err := time.ParseDuration(d.src)
		if err != nil || v <= 0 {
			problems = append(problems, fmt.Sprintf("%s: %q is not a positive duration such as 30m", d.env, d.src))
		}
		*d.dst = v
	}
	if n, err := strconv.ParseInt(*raw["seed"], 10, 64); err != nil {
		problems = append(problems, "PORTAL_DEMO_SEED: not an integer")
	} else {
		c.DemoSeed = n
	}
	if n, err := strconv.Atoi(*raw["envs"]); err != nil || n < 1 || n > 100000 {
		problems = append(problems, "PORTAL_DEMO_ENVIRONMENTS: not a whole number from 1 to 100000")
	} else {
		c.DemoEnvironments = n
	}
	if d, err := time.ParseDuration(*raw["latency"]); err != nil || d < 0 || d > time.Minute {
		problems = append(problems, "PORTAL_DEMO_LATENCY: not a duration from 0s to 1m")
	} else {
		c.DemoLatency = d
	}
	if c.IdleTimeout > c.AbsoluteTimeout && c.AbsoluteTimeout > 0 {
		problems = append(problems, "PORTAL_SESSION_IDLE must not exceed PORTAL_SESSION_MAX")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("PORTAL_ADDR: %q is not host:port", c.Addr))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			problems = append(problems, fmt.Sprintf("PORTAL_METRICS_ADDR: %q is not host:port", c.MetricsAddr))
		}
	}
	if c.BaseURL != "" {
		if msg := checkURL(c.BaseURL, false); msg != "" {
			problems = append(problems, "PORTAL_BASE_URL: "+msg)
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			problems = append(problems, "PORTAL_REDIS_URL: must be a redis://, rediss:// or unix:// URL")
		}
	}

	if cmd == "serve" {
		for _, req := range []struct{ env, v string }{
			{"PORTAL_TENANT_ID", c.TenantID}, {"PORTAL_CLIENT_ID", c.ClientID},
			{"PORTAL_CLIENT_SECRET (or PORTAL_CLIENT_SECRET_FILE)", c.ClientSecret},
			{"PORTAL_SESSION_KEY (or PORTAL_SESSION_KEY_FILE)", c.SessionKey},
		} {
			if req.v == "" {
				problems = append(problems, req.env+" is required")
			}
		}
		for _, u := range []struct{ env, v string }{{"PORTAL_AUTHORITY", c.Authority}, {"PORTAL_PPAPI_URL", c.PPAPIURL}, {"PORTAL_BAP_URL", c.BAPURL}} {
			if msg := checkURL(u.v, true); msg != "" {
				problems = append(problems, u.env+": "+msg)
			}
		}
		if c.SessionKey != "" {
			for i, k := range strings.Split(c.SessionKey, ",") {
				if len(strings.TrimSpace(k)) < 32 {
					problems = append(problems, fmt.Sprintf("PORTAL_SESSION_KEY: key %d is shorter than 32 bytes", i+1))
				}
			}
		}
		if c.BaseURL == "" {
			c.BaseURL = "http://" + c.Addr
		}
		if u, _ := url.Parse(c.BaseURL); u != nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
			problems = append(problems, "PORTAL_BASE_URL: must be https unless the host is loopback")
		}
	}
	if c.AppScope == "" && c.ClientID != "" {
		c.AppScope = "api://" + c.ClientID + "/access_as_user"
	}
	if len(problems) > 0 {
		return c, &configError{problems: problems}
	}
	return c, nil
}

// configError lists every configuration problem.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "configuration is incomplete or invalid:\n  - " + strings.Join(e.problems, "\n  - ")
}

// checkURL returns "" for an absolute http(s) URL without user info; with
// strict, plain http is allowed on loopback hosts only.
func checkURL(raw string, strict bool) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Sprintf("%q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	if strict && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "must be https unless the host is loopback"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dump is the configuration as logged at start-up: secrets left out, and
// only whether they are set.
func (c Config) dump() string {
	b, _ := json.Marshal(struct {
		Config
		ClientSecretSet bool `json:"client_secret_set"`
		SessionKeySet   bool `json:"session_key_set"`
		RedisSet        bool `json:"redis_set"`
	}{c, c.ClientSecret != "", c.SessionKey != "", c.RedisURL != ""})
	return string(b)
}

// sessionKeys derives, from each configured key (newest first), a
// securecookie hash key, block key, and an encryption key for tokens at
// rest, with HKDF-SHA256 and distinct labels.
func sessionKeys(keys string) (pairs [][]byte, encryption []byte, err error) {
	for _, k := range strings.Split(keys, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		hashKey, err1 := hkdf.Key(sha256.New, []byte(k), nil, "portal cookie mac", 32)
		blockKey, err2 := hkdf.Key(sha256.New, []byte(k), nil, "portal cookie enc", 32)
		if err := errors.Join(err1, err2); err != nil {
			return nil, nil, err
		}
		pairs = append(pairs, hashKey, blockKey)
		if encryption == nil {
			encryption, err = hkdf.Key(sha256.New, []byte(k), nil, "portal tokens at rest", 32)
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if len(pairs) == 0 {
		return nil, nil, errors.New("no session key")
	}
	return pairs, encryption, nil
}
