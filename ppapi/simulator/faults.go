package simulator

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind is how an injected fault answers.
type FaultKind int

const (
	// FaultStatus answers Fault.Status (default 500) with Fault.Body and,
	// when set, Retry-After: Fault.RetryAfter. Nothing is processed.
	FaultStatus FaultKind = iota
	// FaultHang never answers: the request blocks until its context ends
	// (the client gives up) or ClearFaults is called, which resets the
	// connection.
	FaultHang
	// FaultReset closes the connection with a TCP reset (linger 0) before
	// reading the request body or answering. Nothing is processed.
	FaultReset
	// FaultResetAfterRequest reads the whole request body, processes the
	// request (so state changes, as when a connection dies after the
	// server acted), then resets the connection instead of answering.
	FaultResetAfterRequest
	// FaultTruncate processes the request, then sends its response with a
	// Content-Length longer than the bytes written, and closes.
	FaultTruncate
	// FaultMalformedJSON answers 200 with a body that is not valid JSON.
	// Nothing is processed.
	FaultMalformedJSON
	// FaultOversize answers 200 with a 16 MiB JSON body, streamed without
	// Content-Length. Nothing is processed.
	FaultOversize
	// FaultSlowBody processes the request, then writes its response body a
	// few bytes at a time, Fault.Delay apart (default 100ms).
	FaultSlowBody
)

// OversizeBytes is how large a FaultOversize body is.
const OversizeBytes = 16 << 20

// Fault is an injected failure, set with SetFault.
type Fault struct {
	// Kind is how the fault answers.
	Kind FaultKind
	// Status is the status of FaultStatus; 0 means 500.
	Status int
	// RetryAfter is sent verbatim as Retry-After by FaultStatus; "" sends
	// none.
	RetryAfter string
	// Body is FaultStatus's body: nil sends the ErrorResponse envelope, ""
	// an empty body, anything else those bytes as application/json (to
	// test flat or broken error bodies).
	Body *string
	// Count is how many requests the fault affects; 0 means every request
	// until ClearFaults.
	Count int
	// Delay is the pause between FaultSlowBody's chunks; 0 means 100ms.
	Delay time.Duration
}

// SetFault makes the next requests to an operation (by spec operationId;
// "" for every operation) fail as f says. A fault for the operation
// itself wins over a fault for "". Faults act before the token and the
// api-version are checked (they stand for the network or a failing
// front end); the kinds that process the request check both as usual.
func (s *Simulator) SetFault(operationID string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[operationID] = &f
}

// ClearFaults removes every fault and frees requests a FaultHang holds.
func (s *Simulator) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*Fault{}
	close(s.release)
	s.release = make(chan struct{})
}

// takeFault returns the fault for this request, if any, and uses one of
// its Count. Callers hold s.mu.
func (s *Simulator) takeFault(op string) *Fault {
	key := op
	f := s.faults[key]
	if f == nil {
		key = ""
		f = s.faults[key]
	}
	if f == nil {
		return nil
	}
	c := *f
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			delete(s.faults, key)
		}
	}
	return &c
}

func (s *Simulator) serveFault(w http.ResponseWriter, r *http.Request, rt *route, args []string, f *Fault, release <-chan struct{}) {
	switch f.Kind {
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-release:
			reset(w) // never a 200 with an empty body
		}
	case FaultReset:
		reset(w)
	case FaultResetAfterRequest:
		rec := newRecorder()
		s.serveOp(rec, r, rt, args)
		io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		reset(w)
	case FaultTruncate:
		rec := newRecorder()
		s.serveOp(rec, r, rt, args)
		truncate(w, rec)
	case FaultMalformedJSON:
		writeRaw(w, http.StatusOK, []byte(`{"value":[{"name":"broken",`))
	case FaultOversize:
		oversize(w, r)
	case FaultSlowBody:
		rec := newRecorder()
		s.serveOp(rec, r, rt, args)
		d := f.Delay
		if d <= 0 {
			d = 100 * time.Millisecond
		}
		slowBody(w, r, rec, d)
	default: // FaultStatus and unknown kinds
		status := f.Status
		if status < 100 || status > 999 {
			status = http.StatusInternalServerError
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		switch {
		case f.Body == nil:
			writeError(w, status, faultCode(status), faultMessage(status, f.RetryAfter))
		case *f.Body == "":
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(status)
		default:
			writeRaw(w, status, []byte(*f.Body))
		}
	}
}

func faultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusInternalServerError:
		return "InternalServerError"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusBadGateway:
		return "BadGateway"
	case http.StatusGatewayTimeout:
		return "GatewayTimeout"
	}
	if t := http.StatusText(status); t != "" {
		return strings.ReplaceAll(t, " ", "")
	}
	return "Error" + strconv.Itoa(status)
}

func faultMessage(status int, retryAfter string) string {
	if status == http.StatusTooManyRequests {
		if n, err := strconv.Atoi(retryAfter); err == nil {
			return "Rate limit is exceeded. Try again in " + strconv.Itoa(n) + " seconds."
		}
		return "Rate limit is exceeded. Try again later."
	}
	if t := http.StatusText(status); t != "" {
		return t + "."
	}
	return "Injected fault."
}

// recorder buffers a response so a fault can mangle how it is sent.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{h: http.Header{}} }

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// sendTo writes the recorded response to w.
func (r *recorder) sendTo(w http.ResponseWriter) {
	for k, v := range r.h {
		w.Header()[k] = v
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(r.body.Bytes())
}

// hijack takes the raw connection; ok is false when the server cannot
// hand it over (HTTP/2), and the caller aborts the stream instead.
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, false
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, false
	}
	return c, rw, true
}

// reset closes the connection with a TCP RST.
func reset(w http.ResponseWriter) {
	c, _, ok := hijack(w)
	if !ok {
		panic(http.ErrAbortHandler) // net/http's sanctioned way to abort a stream
	}
	closeHard(c)
}

func closeHard(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// truncate writes the recorded response's head with a Content-Length 64
// bytes longer than the body, half of the body, and closes.
func truncate(w http.ResponseWriter, rec *recorder) {
	for k, v := range rec.h {
		w.Header()[k] = v
	}
	c, rw, ok := hijack(w)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	defer c.Close()
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	body := rec.body.Bytes()
	h := w.Header().Clone()
	h.Set("Content-Length", strconv.Itoa(len(body)+64))
	h.Set("Connection", "close")
	rw.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	h.Write(rw)
	rw.WriteString("\r\n")
	rw.Write(body[:len(body)/2])
	rw.Flush()
}

// oversize streams a valid JSON list of OversizeBytes.
func oversize(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	item := []byte(`{"name":"` + strings.Repeat("x", 1000) + `"},`)
	chunk := bytes.Repeat(item, 64)
	written, _ := w.Write([]byte(`{"value":[`))
	for written < OversizeBytes-len(chunk) {
		if r.Context().Err() != nil {
			return
		}
		n, err := w.Write(chunk)
		written += n
		if err != nil {
			return
		}
	}
	w.Write([]byte(`{"name":"end"}]}`))
}

// slowBody sends the recorded response, its body 16 bytes at a time.
func slowBody(w http.ResponseWriter, r *http.Request, rec *recorder, d time.Duration) {
	for k, v := range rec.h {
		w.Header()[k] = v
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	fl, _ := w.(http.Flusher)
	body := rec.body.Bytes()
	t := time.NewTimer(d)
	defer t.Stop()
	for len(body) > 0 {
		n := min(16, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
		if fl != nil {
			fl.Flush()
		}
		if len(body) == 0 {
			return
		}
		t.Reset(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
}
