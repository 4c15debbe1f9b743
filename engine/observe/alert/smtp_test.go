package alert

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// mailReceived is one mail transaction the test SMTP server completed.
type mailReceived struct {
	helo, auth, from string
	rcpt             []string
	data             []byte
}

// smtpServer is a small real SMTP receiver on loopback: it speaks EHLO,
// AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT.
type smtpServer struct {
	addr string
	got  chan mailReceived
}

func startSMTPServer(tb testing.TB, tlsCfg *tls.Config) *smtpServer {
	tb.Helper()
	var (
		ln  net.Listener
		err error
	)
	if tlsCfg != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(tb, err)
	s := &smtpServer{addr: ln.Addr().String(), got: make(chan mailReceived, 16)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(c)
	reply := func(line string) { _ = tp.PrintfLine("%s", line) }
	reply("220 test.local ESMTP ready")
	var m mailReceived
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			m.helo = arg
			reply("250-test.local")
			reply("250-AUTH PLAIN")
			reply("250 8BITMIME")
		case "AUTH":
			m.auth = arg
			reply("235 2.7.0 authenticated")
		case "MAIL":
			m.from = strings.TrimSuffix(strings.TrimPrefix(arg, "FROM:<"), ">")
			if i := strings.Index(m.from, "> "); i >= 0 { // parameters such as BODY=8BITMIME
				m.from = m.from[:i]
			}
			reply("250 2.1.0 ok")
		case "RCPT":
			m.rcpt = append(m.rcpt, strings.TrimSuffix(strings.TrimPrefix(arg, "TO:<"), ">"))
			reply("250 2.1.5 ok")
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.data = data
			reply("250 2.0.0 queued")
			s.got <- m
			m = mailReceived{helo: m.helo, auth: m.auth}
		case "RSET":
			m = mailReceived{helo: m.helo, auth: m.auth}
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func (s *smtpServer) next(tb testing.TB) mailReceived {
	tb.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(10 * time.Second):
		tb.Fatal("SMTP server got no mail within 10 s")
		return mailReceived{}
	}
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client one
// trusting it.
func selfSigned(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestSMTPGateway(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name   string
		scheme string
		tls    bool
		user   string
	}{
		{"smtp with AUTH PLAIN", "smtp", false, "alerts"},
		{"smtp without AUTH", "smtp", false, ""},
		{"smtps", "smtps", true, "alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srvTLS *tls.Config
			if tt.tls {
				srvTLS = serverTLS
			}
			srv := startSMTPServer(t, srvTLS)
			opt, got := deliveries()
			m, _ := newMonitor(t, func(c *config.Config) {
				c.AlerterEmail = config.AlerterConfig{
					Gateway: tt.scheme + "://" + srv.addr, User: tt.user, Password: "pw", From: "medis@example.com",
				}
			}, opt, WithTLSConfig(clientTLS))
			runMonitor(t, m)
			s := newSub(t, 17, func(s *subs.Subscription) {
				s.Topic = "order_paid"
				s.AlertEmails = "a@example.com, b@example.com"
				s.AlertRetryThreshold = 3
			})
			m.PushFailed(s, 3)

			rcv := srv.next(t)
			a := m.Recent(1)[0]
			assert.Equal(t, "medis@example.com", rcv.from)
			assert.Equal(t, []string{"a@example.com", "b@example.com"}, rcv.rcpt)
			if tt.user != "" {
				want := base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00pw"))
				assert.Equal(t, "PLAIN "+want, rcv.auth)
			} else {
				assert.Empty(t, rcv.auth)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(rcv.data)))
			require.NoError(t, err)
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			require.NoError(t, err)
			assert.Equal(t, a.Subject, subject)
			assert.Equal(t, "medis@example.com", msg.Header.Get("From"))
			assert.Equal(t, "a@example.com, b@example.com", msg.Header.Get("To"))
			assert.Equal(t, "text/plain; charset=utf-8", msg.Header.Get("Content-Type"))
			body, err := io.ReadAll(msg.Body)
			require.NoError(t, err)
			// ReadDotBytes has turned the CRLF line ends back into LF.
			assert.Equal(t, a.Text, string(body))
			assert.Contains(t, a.Text, "a message failed after 3 retries")

			d := next(t, got)
			require.NoError(t, d.err)
			assert.Equal(t, []string{GatewayEmail}, d.alert.Delivered)
		})
	}
}

func TestComposeMailHeadersCannotBeInjected(t *testing.T) {
	b := composeMail(&Message{
		From: "x@example.com", To: []string{"a@example.com"},
		Subject: "bad\r\nBcc: victim@example.com", Content: "line 1\nline 2\r\n.\n",
	}, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), "\r\n")
	msg, err := mail.ReadMessage(strings.NewReader(string(b)))
	require.NoError(t, err)
	assert.Empty(t, msg.Header.Get("Bcc"))
	assert.Equal(t, "bad Bcc: victim@example.com", msg.Header.Get("Subject"))
	assert.Equal(t, "Thu, 02 Jan 2025 03:04:05 +0000", msg.Header.Get("Date"))
	body, err := io.ReadAll(bufio.NewReader(msg.Body))
	require.NoError(t, err)
	assert.Equal(t, "line 1\r\nline 2\r\n.\r\n", string(body))
}
