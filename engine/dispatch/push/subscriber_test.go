package push

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp/fasthttputil"
)

// seen is one request as a strict subscriber received it.
type seen struct {
	raw  []byte        // the request's bytes on the wire
	req  *http.Request // parsed by net/http's strict parser
	body []byte
}

// answer is what the subscriber sends back; close drops the connection
// instead of answering, hold blocks until the channel is closed.
type answer struct {
	status int
	header map[string]string
	body   []byte
	close  bool
	hold   <-chan struct{}
	// closeAfter answers, then closes the connection although it said
	// keep-alive: what a server does when its idle timeout strikes.
	closeAfter bool
}

// subscriber is a raw HTTP/1.1 server that parses requests with net/http's
// parser and records them byte for byte.
type subscriber struct {
	ln     net.Listener
	answer func(s *seen) answer
	seen   chan *seen

	// host is the URL's host; fasthttp lowercases it, so the in-memory
	// listener's "InmemoryListener" will not do.
	host string

	mu    sync.Mutex
	conns int
	open  map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newSubscriber(t testing.TB, ln net.Listener, fn func(s *seen) answer) *subscriber {
	sub := &subscriber{ln: ln, answer: fn, seen: make(chan *seen, 1024), host: ln.Addr().String(), open: map[net.Conn]struct{}{}}
	sub.wg.Add(1)
	go sub.serve(t)
	t.Cleanup(func() {
		ln.Close()
		// The client keeps idle connections open; close them so the
		// connection goroutines end now.
		sub.mu.Lock()
		for c := range sub.open {
			c.Close()
		}
		sub.mu.Unlock()
		sub.wg.Wait()
	})
	return sub
}

// tcpSubscriber listens on a loopback TCP port.
func tcpSubscriber(t testing.TB, fn func(s *seen) answer) *subscriber {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return newSubscriber(t, ln, fn)
}

// memSubscriber listens in memory; the returned Config dials it whatever
// the URL's host.
func memSubscriber(t testing.TB, fn func(s *seen) answer) (*subscriber, Config) {
	ln := fasthttputil.NewInmemoryListener()
	cfg := Config{
		UserAgent: "medispatcher/test",
		Dial:      func(string, time.Duration) (net.Conn, error) { return ln.Dial() },
	}
	sub := newSubscriber(t, ln, fn)
	sub.host = "subscriber.test"
	return sub, cfg
}

func (sub *subscriber) url(path string) string {
	return "http://" + sub.host + path
}

func (sub *subscriber) serve(t testing.TB) {
	defer sub.wg.Done()
	for {
		conn, err := sub.ln.Accept()
		if err != nil {
			return
		}
		sub.mu.Lock()
		sub.conns++
		sub.open[conn] = struct{}{}
		sub.mu.Unlock()
		sub.wg.Add(1)
		go func() {
			defer sub.wg.Done()
			sub.serveConn(conn)
			conn.Close()
			sub.mu.Lock()
			delete(sub.open, conn)
			sub.mu.Unlock()
		}()
	}
}

func (sub *subscriber) connCount() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.conns
}

func (sub *subscriber) serveConn(conn net.Conn) {
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(conn, &raw))
	for {
		raw.Reset()
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		s := &seen{raw: bytes.Clone(raw.Bytes()), req: req, body: body}
		sub.seen <- s
		a := sub.answer(s)
		if a.hold != nil {
			<-a.hold
		}
		if a.close {
			return
		}
		var out bytes.Buffer
		fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n", a.status, http.StatusText(a.status), len(a.body))
		for k, v := range a.header {
			fmt.Fprintf(&out, "%s: %s\r\n", k, v)
		}
		out.WriteString("\r\n")
		out.Write(a.body)
		if _, err := conn.Write(out.Bytes()); err != nil || a.closeAfter {
			return
		}
	}
}

// form parses the body as a form.
func (s *seen) form(t testing.TB) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(s.body))
	require.NoError(t, err)
	return v
}

// next returns the next request the subscriber saw.
func (sub *subscriber) next(t testing.TB) *seen {
	t.Helper()
	select {
	case s := <-sub.seen:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber saw no request")
		return nil
	}
}

func ok1(*seen) answer { return answer{status: 200, body: []byte(`{"status":1}`)} }
