package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// publishTokensFromEnv reads MEDISPATCHER_PUBLISH_TOKENS, comma-separated.
func publishTokensFromEnv() []string {
	var out []string
	for _, t := range strings.Split(os.Getenv("MEDISPATCHER_PUBLISH_TOKENS"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// publish checks the HTTP publish API's tokens and bounds.
func (v *validator) publish() {
	c := v.c
	for i, t := range c.PublishTokens {
		if len(t) < 16 {
			v.bad(fmt.Sprintf("PublishTokens[%d]", i), "(hidden)", "a token of at least 16 characters", fmt.Sprintf("it has %d", len(t)))
		}
	}
	v.atLeast("PublishMaxBatch", c.PublishMaxBatch, 1)
	v.atLeast("PublishMaxBodyBytes", c.PublishMaxBodyBytes, 1024)
	v.atLeast("PublishIdempotencySeconds", c.PublishIdempotencySeconds, 1)
}

// tracing checks the OpenTelemetry exporter's endpoint and sampling.
func (v *validator) tracing() {
	c := v.c
	if c.OtelEndpoint != "" {
		u, err := url.Parse(c.OtelEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.bad("OtelEndpoint", c.OtelEndpoint, `an http(s)://host:port URL of an OTLP/HTTP collector, or "" (off)`, "")
		}
	}
	if c.OtelSampleRatio < 0 || c.OtelSampleRatio > 1 {
		v.bad("OtelSampleRatio", c.OtelSampleRatio, "a number from 0 to 1", "")
	}
	if strings.TrimSpace(c.OtelServiceName) == "" {
		v.bad("OtelServiceName", c.OtelServiceName, "a service name", "")
	}
}
