package alert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"time"

	"medispatcher/internal/config"
)

// smtpGateway sends alerts as mail through an SMTP server.
type smtpGateway struct {
	addr     string // host:port
	host     string
	implicit bool // smtps: TLS from the first byte
	user     string
	password string
	from     string // envelope sender
	helo     string
	tls      *tls.Config
}

func newSMTPGateway(u *url.URL, c *config.AlerterConfig, hostname string, tlsCfg *tls.Config) (*smtpGateway, error) {
	g := &smtpGateway{
		host:     u.Hostname(),
		implicit: u.Scheme == "smtps",
		user:     c.User,
		password: c.Password,
		from:     c.From,
		helo:     hostname,
	}
	if g.host == "" {
		return nil, errors.New("no host")
	}
	port := u.Port()
	if port == "" {
		port = "25"
		if g.implicit {
			port = "465"
		}
	}
	g.addr = net.JoinHostPort(g.host, port)
	if g.from == "" {
		g.from = "medispatcher@" + hostname
	}
	if tlsCfg != nil {
		g.tls = tlsCfg.Clone()
	} else {
		g.tls = &tls.Config{}
	}
	if g.tls.ServerName == "" {
		g.tls.ServerName = g.host
	}
	return g, nil
}

// Send delivers msg to msg.To: STARTTLS when the server offers it, AUTH
// PLAIN when a user is set.
func (g *smtpGateway) Send(ctx context.Context, msg *Message) (err error) {
	if len(msg.To) == 0 {
		return fmt.Errorf("mail alert through %s: no recipient", g.addr)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", g.addr)
	if err != nil {
		return fmt.Errorf("mail alert through %s: %w", g.addr, err)
	}
	// net/smtp takes no context: a deadline bounds every read and write,
	// and cancelling ctx expires it at once.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if g.implicit {
		conn = tls.Client(conn, g.tls)
	}
	c, err := smtp.NewClient(conn, g.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail alert through %s: %w", g.addr, err)
	}
	defer c.Close()
	if err := g.converse(c, msg); err != nil {
		return fmt.Errorf("mail alert through %s: %w", g.addr, err)
	}
	return nil
}

func (g *smtpGateway) converse(c *smtp.Client, msg *Message) error {
	if err := c.Hello(g.helo); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if !g.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(g.tls); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		}
	}
	if g.user != "" {
		if err := c.Auth(smtp.PlainAuth("", g.user, g.password, g.host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(g.from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, to := range msg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	m := *msg
	if m.From == "" {
		m.From = g.from
	}
	if _, err := w.Write(composeMail(&m, time.Now(), "\r\n")); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	return nil
}
