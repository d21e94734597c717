// Command portal is the Power Platform admin portal.
//
//	portal demo    one command, no configuration: a simulated tenant and a dev identity provider
//	portal serve   production: Entra ID and the real Power Platform endpoints
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}
