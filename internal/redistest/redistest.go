// Package redistest runs a real, throwaway redis-server for tests: on a
// unix socket in a temporary directory, no TCP port, no persistence between
// test runs. Tests that need Redis fail (never skip) when redis-server is
// not installed; CI installs the Debian package redis-server.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long redis-server may take to get ready.
const startTimeout = 15 * time.Second

// Start runs redis-server for the test and stops it in t.Cleanup. addr is a
// URL for redis.ParseURL ("unix:///tmp/…/r.sock"). stop shuts the server
// down (saving its data to its directory first); restart starts it again on
// the same socket with that data, so a stop/restart pair behaves like a
// Redis outage that loses nothing. Both may be called repeatedly.
func Start(t testing.TB) (addr string, stop func(), restart func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		bin = "/usr/bin/redis-server"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("redistest: redis-server not found (%v): install the Debian package redis-server (apt-get install -y redis-server)", err)
		}
	}
	// A short directory: unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	sock := filepath.Join(dir, "r.sock")
	s := &server{bin: bin, dir: dir, sock: sock}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		s.stop()
		os.RemoveAll(dir)
	})
	stop = func() {
		t.Helper()
		if err := s.stop(); err != nil {
			t.Errorf("redistest: stop: %v", err)
		}
	}
	restart = func() {
		t.Helper()
		if err := s.stop(); err != nil {
			t.Errorf("redistest: stop: %v", err)
		}
		if err := s.start(); err != nil {
			t.Fatalf("redistest: restart: %v", err)
		}
	}
	return "unix://" + sock, stop, restart
}

type server struct {
	bin, dir, sock string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	// #nosec G204 -- test helper: s.bin is redis-server from PATH or /usr/bin, and every argument is a constant or a temp path this package made
	cmd := exec.Command(s.bin,
		"--port", "0",
		"--unixsocket", s.sock,
		"--unixsocketperm", "700",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--logfile", "",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	ready := make(chan struct{})
	var log strings.Builder
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			if log.Len() < 16<<10 {
				log.WriteString(line + "\n")
			}
			logMu.Unlock()
			if !signalled && strings.Contains(strings.ToLower(line), "ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
		io.Copy(io.Discard, out)
	}()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-done:
		logMu.Lock()
		defer logMu.Unlock()
		return fmt.Errorf("redis-server exited before it was ready:\n%s", log.String())
	case <-timer.C:
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server not ready after %v", startTimeout)
	}
	if err := command(s.sock, "PING", "+PONG"); err != nil {
		cmd.Process.Kill()
		<-done
		return err
	}
	s.cmd, s.done = cmd, done
	return nil
}

// stop asks the server to save and shut down, and waits for it to exit.
func (s *server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	if err := command(s.sock, "SHUTDOWN SAVE", ""); err != nil {
		cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-done:
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		<-done
		return errors.New("redis-server did not exit after SHUTDOWN; killed")
	}
	return nil
}

// command sends one inline command over the socket and, when want is not
// empty, checks that the reply line starts with it.
func command(sock, cmd, want string) error {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return err
	}
	if want == "" {
		// SHUTDOWN closes the connection without a reply.
		io.Copy(io.Discard, c)
		return nil
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("%s: got %q, want %q", cmd, strings.TrimSpace(line), want)
	}
	return nil
}
