package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// DefaultSendmail is the program of a "sendmail://" gateway.
const DefaultSendmail = "/usr/sbin/sendmail"

// sendmailGateway pipes alerts to the local sendmail, which reads the
// recipients from the To header (-t) and does not end the message at a
// line holding a single dot (-i).
type sendmailGateway struct {
	path string
}

func newSendmailGateway(u *url.URL) *sendmailGateway {
	p := u.Path
	if p == "" || p == "/" {
		p = DefaultSendmail
	}
	return &sendmailGateway{path: p}
}

// Send runs sendmail -t -i with msg on its standard input; ctx bounds it.
func (g *sendmailGateway) Send(ctx context.Context, msg *Message) error {
	if len(msg.To) == 0 {
		return fmt.Errorf("mail alert through %s: no recipient", g.path)
	}
	cmd := exec.CommandContext(ctx, g.path, "-t", "-i")
	cmd.Stdin = bytes.NewReader(composeMail(msg, time.Now(), "\n"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A sendmail that forked a child keeping the pipes open must not hold
	// us past ctx.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("mail alert through %s: %w", g.path, ctx.Err())
		}
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			return fmt.Errorf("mail alert through %s: %v, output %q: %w", g.path, err,
				excerpt([]byte(strings.TrimSpace(out.String()))), ErrRejected)
		}
		return fmt.Errorf("mail alert through %s: %w", g.path, err)
	}
	return nil
}
