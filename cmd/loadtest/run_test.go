package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsRefusesUnboundedRuns(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "61s"},
		{"-duration", "0s"},
		{"-clients", "0"},
		{"-clients", "501"},
		{"-environments", "13"},
		{"-sessions", "20001"},
		{"-latency", "6s"},
		{"-page", "http://example.invalid/"},
		{"-page", "//elsewhere/x"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) error = nil, want a refusal", args)
		}
	}
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(nil) error = %v", err)
	}
	want := config{Clients: 20, Duration: 10 * time.Second, Environments: 1000, Page: "/environments", Sessions: 1000}
	if c != want {
		t.Errorf("parseFlags(nil) = %+v, want %+v", c, want)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got, want := percentiles(d), "p50 50ms, p90 90ms, p99 99ms, max 100ms (n=100)"; got != want {
		t.Errorf("percentiles(1..100ms) = %q, want %q", got, want)
	}
	if got := percentiles(nil); got != "no samples" {
		t.Errorf("percentiles(nil) = %q, want no samples", got)
	}
}

// TestRunSmall runs every phase briefly and checks that each reports its
// figures without errors. It asserts no timings.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo")
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-clients", "2", "-duration", "200ms", "-environments", "30", "-page-size", "20", "-sessions", "20"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("run error = %v\n%s", err, out.String())
	}
	s := out.String()
	if n := len(regexp.MustCompile(`\d+ (pages|lists) in .*, 0 errors`).FindAllString(s, -1)); n != 3 {
		t.Errorf("run printed %d error-free phases, want 3:\n%s", n, s)
	}
	for _, want := range []string{
		"upstream requests per list: 2.00", // 30 environments in pages of 20
		"portal/raw throughput: ",
		"upstream requests during the phase: 0",
		"B per session",
		"scripts: /static/htmx.min.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("run output lacks %q:\n%s", want, s)
		}
	}
}
