package alert

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"medispatcher/internal/config"
	"medispatcher/internal/redact"
)

// TemplateFile is the name of the template looked for in a gateway's
// TemplateRootPath.
const TemplateFile = "alert.tpl"

// Message is what one gateway sends for one alert.
type Message struct {
	From    string   // the gateway's From
	To      []string // recipients: addresses, phone numbers, platform receivers
	Subject string
	Content string // the alert text, through the gateway's template if any
	Chan    string // the alarm platform's channel (DefaultAlarmChan); "" elsewhere
}

// Gateway delivers alerts to one email, SMS or alarm platform service.
// Send returns nil only when the service accepted the message; it must
// give up when ctx ends.
type Gateway interface {
	Send(ctx context.Context, msg *Message) error
}

// ErrRejected is matched (errors.Is) when a gateway answered but did not
// accept the alert (an HTTP status other than 2xx, no AckStr in the body,
// a sendmail exit status other than 0).
var ErrRejected = errors.New("alert rejected by gateway")

// gatewayEntry is one gateway that is on, with its queue.
type gatewayEntry struct {
	name  string
	gw    Gateway
	from  string
	tpl   string // "" = plain text
	queue chan delivery
}

// delivery is one alert queued for one gateway.
type delivery struct {
	rec *record
	msg *Message
}

// addGateways builds the gateways of the three alerter sections, in the
// order email, SMS, platform, and keeps those that are on. It reports the
// problems of every section at once.
func (m *Monitor) addGateways(cfg *config.Config) error {
	var errs []error
	for _, sec := range []struct {
		name string
		cfg  *config.AlerterConfig
	}{{GatewayEmail, &cfg.AlerterEmail}, {GatewaySms, &cfg.AlerterSms}, {GatewayPlatform, &cfg.AlarmPlatform}} {
		e, err := m.newGatewayEntry(sec.name, sec.cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e != nil {
			m.gateways = append(m.gateways, e)
			m.byName[sec.name] = e
		}
	}
	return errors.Join(errs...)
}

// newGatewayEntry builds the gateway of section name, or nil when it is off.
func (m *Monitor) newGatewayEntry(name string, c *config.AlerterConfig) (*gatewayEntry, error) {
	gw, replaced := m.opts.gateways[name]
	if !replaced && c.Gateway == "" {
		return nil, nil
	}
	if replaced && gw == nil {
		return nil, nil
	}
	e := &gatewayEntry{name: name, from: c.From, queue: make(chan delivery, m.opts.queueSize)}
	if !replaced {
		var err error
		if gw, err = m.buildGateway(c); err != nil {
			return nil, fmt.Errorf("alert gateway %s (%q): %w", name, redact.URL(c.Gateway), err)
		}
	}
	e.gw = gw
	if c.TemplateRootPath != "" {
		p := filepath.Join(c.TemplateRootPath, TemplateFile)
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			e.tpl = string(b)
		case errors.Is(err, fs.ErrNotExist):
			m.log.Info("no alert template, sending plain text", "gateway", name, "path", p)
		default:
			return nil, fmt.Errorf("read alert template %s: %w", p, err)
		}
	}
	return e, nil
}

func (m *Monitor) buildGateway(c *config.AlerterConfig) (Gateway, error) {
	u, err := url.Parse(c.Gateway)
	if err != nil {
		// url.Error quotes the URL: keep its reason, mask its userinfo.
		return nil, fmt.Errorf("parse gateway URL: %s", redact.URL(err.Error()))
	}
	switch u.Scheme {
	case "http", "https":
		return newHTTPGateway(c, m.opts.tls, m.opts.sendTimeout)
	case "smtp", "smtps":
		return newSMTPGateway(u, c, m.host, m.opts.tls)
	case "sendmail":
		return newSendmailGateway(u), nil
	}
	return nil, fmt.Errorf("scheme %q not supported (http, https, smtp, smtps, sendmail)", u.Scheme)
}

// message builds what this gateway sends: the content through its template.
func (e *gatewayEntry) message(subject, text string, to []string, ch string) *Message {
	content := text
	if e.tpl != "" {
		content = strings.NewReplacer(
			"{@Subject@}", subject,
			"{@From@}", e.from,
			"{@Content@}", text,
		).Replace(e.tpl)
	}
	return &Message{From: e.from, To: to, Subject: subject, Content: content, Chan: ch}
}
