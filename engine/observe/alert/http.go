package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/internal/config"
	"medispatcher/internal/redact"
)

// Alert fields an HTTP gateway's PostFieldsMap may name.
const (
	fieldUser      = "User"
	fieldPassword  = "Password"
	fieldFrom      = "From"
	fieldSubject   = "Subject"
	fieldRecipient = "Recipient"
	fieldContent   = "Content"
	fieldChan      = "Chan"
)

var alertFields = []string{fieldUser, fieldPassword, fieldFrom, fieldSubject, fieldRecipient, fieldContent, fieldChan}

// httpGateway POSTs alerts as a form or a JSON object.
type httpGateway struct {
	// shown is url with its userinfo masked, for errors.
	shown    string
	url      string
	json     bool
	user     string
	password string
	ack      []byte
	names    map[string]string // alert field -> posted name; "" = not sent
	consts   [][2]string       // constant fields, sorted by name
	client   *fasthttp.Client
	timeout  time.Duration
}

func newHTTPGateway(c *config.AlerterConfig, tlsCfg *tls.Config, timeout time.Duration) (*httpGateway, error) {
	g := &httpGateway{
		url:      c.Gateway,
		shown:    redact.URL(c.Gateway),
		user:     c.User,
		password: c.Password,
		ack:      []byte(c.AckStr),
		names:    make(map[string]string, len(alertFields)),
		timeout:  timeout,
		client: &fasthttp.Client{
			Name:                "medispatcher-alert",
			ReadTimeout:         timeout,
			WriteTimeout:        timeout,
			MaxIdleConnDuration: 30 * time.Second,
			MaxResponseBodySize: 1 << 20,
			TLSConfig:           tlsCfg,
		},
	}
	switch strings.ToLower(c.Format) {
	case "", "form":
	case "json":
		g.json = true
	default:
		return nil, fmt.Errorf("format %q: must be form or json", c.Format)
	}
	for _, f := range alertFields {
		g.names[f] = strings.ToLower(f)
	}
	for k, v := range c.PostFieldsMap {
		if i := slices.IndexFunc(alertFields, func(f string) bool { return strings.EqualFold(f, k) }); i >= 0 {
			g.names[alertFields[i]] = v
			continue
		}
		g.consts = append(g.consts, [2]string{k, v})
	}
	slices.SortFunc(g.consts, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return g, nil
}

// fields are the name/value pairs posted for msg: the alert fields in the
// order of alertFields, then the constant ones.
func (g *httpGateway) fields(msg *Message) [][2]string {
	out := make([][2]string, 0, len(alertFields)+len(g.consts))
	add := func(field, value string, optional bool) {
		name := g.names[field]
		if name == "" || (optional && value == "") {
			return
		}
		out = append(out, [2]string{name, value})
	}
	add(fieldUser, g.user, true)
	add(fieldPassword, g.password, true)
	add(fieldFrom, msg.From, true)
	add(fieldSubject, msg.Subject, false)
	add(fieldRecipient, strings.Join(msg.To, ","), false)
	add(fieldContent, msg.Content, false)
	add(fieldChan, msg.Chan, true)
	return append(out, g.consts...)
}

// Send POSTs msg; accepted = 2xx and, when AckStr is set, a body holding it.
func (g *httpGateway) Send(ctx context.Context, msg *Message) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(g.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	fields := g.fields(msg)
	if g.json {
		obj := make(map[string]string, len(fields))
		for _, f := range fields {
			obj[f[0]] = f[1]
		}
		body, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("encode alert for %s: %w", g.shown, err)
		}
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	} else {
		args := fasthttp.AcquireArgs()
		defer fasthttp.ReleaseArgs(args)
		for _, f := range fields {
			args.Add(f[0], f[1])
		}
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBody(args.QueryString())
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(g.timeout)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("post alert to %s: %w", g.shown, err)
	}
	// fasthttp takes no context: the deadline bounds the request, and a
	// cancelled ctx is seen at the next attempt.
	if err := g.client.DoDeadline(req, resp, deadline); err != nil {
		return fmt.Errorf("post alert to %s: %w", g.shown, err)
	}
	code := resp.StatusCode()
	body := resp.Body()
	if code < 200 || code > 299 {
		return fmt.Errorf("post alert to %s: status %d, body %q: %w", g.shown, code, excerpt(body), ErrRejected)
	}
	if len(g.ack) > 0 && !bytes.Contains(body, g.ack) {
		return fmt.Errorf("post alert to %s: answer %q lacks ack %q: %w", g.shown, excerpt(body), g.ack, ErrRejected)
	}
	return nil
}

// excerpt bounds a gateway's answer quoted in an error.
func excerpt(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
