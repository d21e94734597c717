// Command loadtest measures the portal under load on this machine (issue 7):
// it starts the demo in-process on loopback (the dev identity provider, the
// simulator and the portal, wired as `portal demo` wires them), signs
// clients in through the identity provider's account picker, and then, for
// a fixed time each:
//
//  1. drives a portal page with all clients at once, the read cache off, so
//     every page asks the simulator (concurrent identical requests of one
//     user still share one upstream call);
//  2. drives the simulator's raw environment list for the same data with
//     the same concurrency and a real bearer token, following nextLinks;
//  3. drives the page again with the read cache on and warm, so no
//     upstream call is made: the portal's own work alone.
//
// It prints throughput, latency percentiles, errors, bytes per response and
// heap in use for each, the portal/raw throughput ratio, the portal's
// server time (measured around its handler), memory per signed-in session
// (1,000 sessions by default) and the first page load's compressed bytes.
// It is bounded in time and count, listens on 127.0.0.1 only, and stops by
// itself.
//
//	go run ./cmd/loadtest -clients 20 -duration 10s -environments 1000
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}
