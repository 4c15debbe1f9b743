package alert

import (
	"bytes"
	"mime"
	"strings"
	"time"
)

// composeMail writes msg as a plain-text RFC 5322 message with lines
// ending in eol ("\r\n" for SMTP, "\n" for sendmail). Header values are
// stripped of line breaks so that no alert text can add a header.
func composeMail(msg *Message, date time.Time, eol string) []byte {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(oneLine(value))
		b.WriteString(eol)
	}
	if msg.From != "" {
		header("From", msg.From)
	}
	header("To", strings.Join(msg.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(msg.Subject)))
	header("Date", date.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString(eol)
	body := strings.ReplaceAll(msg.Content, "\r\n", "\n")
	for line := range strings.Lines(body) {
		b.WriteString(strings.TrimSuffix(line, "\n"))
		b.WriteString(eol)
	}
	return b.Bytes()
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}
