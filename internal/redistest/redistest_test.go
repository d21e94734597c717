package redistest

import (
	"strings"
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	addr, stop, restart := Start(t)
	sock, ok := strings.CutPrefix(addr, "unix://")
	if !ok {
		t.Fatalf("Start() addr = %q, want a unix:// URL", addr)
	}
	if err := command(sock, "SET k v", "+OK"); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := command(sock, "PING", "+PONG"); err == nil {
		t.Fatal("PING after stop succeeded, want an error")
	}
	restart()
	if err := command(sock, "GET k", "$1"); err != nil {
		t.Fatalf("GET k after restart: %v (data should survive stop/restart)", err)
	}
	restart() // restart while running is stop + start
	if err := command(sock, "PING", "+PONG"); err != nil {
		t.Fatal(err)
	}
}
