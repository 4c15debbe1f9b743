package command

import (
	"fmt"
	"net/url"
	"strings"
)

// metricsFlag is --metrics: the comma-separated /metrics URLs of the
// daemons a run drives (http or https, with a host).
type metricsFlag []string

func (m *metricsFlag) String() string { return strings.Join(*m, ",") }

// Set checks every URL of s, so that a mistyped one is a usage error, not a
// note at the end of a run.
func (m *metricsFlag) Set(s string) error {
	var urls []string
	for _, u := range strings.Split(s, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%q is not an http URL (e.g. http://127.0.0.1:25606/metrics)", u)
		}
		urls = append(urls, p.String())
	}
	*m = urls
	return nil
}
