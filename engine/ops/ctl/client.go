package ctl

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/ops/adminapi"
)

// APIError is an error answer of the admin API: its stable code, its
// message and, for a validation error, one detail per invalid field.
type APIError struct {
	Status  int            // HTTP status
	Code    string         // "unauthorized", "invalid", "not_found", ...
	Message string         // what the daemon said
	Details []FieldProblem // invalid fields, for code "invalid"
}

// FieldProblem is one invalid field of a validation error.
type FieldProblem = adminapi.FieldProblem

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// HTTPError is an answer that is not the admin API's: a proxy's error page,
// another server on the port.
type HTTPError struct {
	Method, Path string
	Status       int
	Body         string // the start of the body
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.Path, e.Status, fasthttp.StatusMessage(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Client talks to one daemon's admin API.
type Client struct {
	hc      *fasthttp.HostClient
	token   string
	timeout time.Duration
	base    string // "http://addr", for messages
}

// NewClient returns a client of the admin API at addr ("host:port", or an
// http:// or https:// URL of it) sending token as the bearer token ("" =
// none). Each request is bounded by timeout. tc (nil = the defaults: the
// system roots) verifies an https:// API's certificate.
func NewClient(addr, token string, timeout time.Duration, tc *tls.Config) (*Client, error) {
	host, isTLS, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	scheme := "http://"
	if isTLS {
		scheme = "https://"
	}
	return &Client{
		hc: &fasthttp.HostClient{
			Addr:                   host,
			IsTLS:                  isTLS,
			TLSConfig:              tc,
			Name:                   "medictl",
			DisablePathNormalizing: true,
			MaxConns:               4,
		},
		token:   token,
		timeout: timeout,
		base:    scheme + host,
	}, nil
}

// splitAddr accepts "host:port", "http://host:port[/]" and
// "https://host:port[/]".
func splitAddr(addr string) (host string, tls bool, err error) {
	a := strings.TrimSpace(addr)
	switch {
	case strings.HasPrefix(a, "https://"):
		a, tls = strings.TrimPrefix(a, "https://"), true
	case strings.HasPrefix(a, "http://"):
		a = strings.TrimPrefix(a, "http://")
	}
	a = strings.TrimRight(a, "/")
	if a == "" || strings.ContainsAny(a, "/?# ") {
		return "", false, fmt.Errorf("admin address %q: want host:port or http://host:port", addr)
	}
	return a, tls, nil
}

// Addr is the base URL the client sends to.
func (c *Client) Addr() string { return c.base }

// maxErrBody bounds how much of a foreign error body a message quotes.
const maxErrBody = 200

// Do sends method path?query with body (JSON-encoded unless it is a
// []byte; nil = no body) and returns the answer's body. A 2xx answer is
// decoded into out when out is not nil; any other is returned as an
// *APIError (or *HTTPError when it is not the API's).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	return c.DoHeader(ctx, method, path, query, nil, body, out)
}

// DoHeader is Do with extra request headers (name → value).
func (c *Client) DoHeader(ctx context.Context, method, path string, query url.Values, header map[string]string, body, out any) ([]byte, error) {
	var payload []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		payload = b
	default:
		var err error
		if payload, err = json.Marshal(b); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	uri := c.base + path
	if len(query) > 0 {
		uri += "?" + query.Encode()
	}
	status, raw, err := c.roundTrip(ctx, method, uri, header, payload)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, uri, err)
	}
	if status < 200 || status > 299 {
		return raw, decodeError(method, path, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return raw, nil
}

// roundTrip does one request. It returns when the answer came, the
// timeout passed or ctx ended (Ctrl-C): fasthttp takes no context, so the
// request runs in its own goroutine, which owns and releases the request
// and response.
func (c *Client) roundTrip(ctx context.Context, method, uri string, header map[string]string, payload []byte) (int, []byte, error) {
	type result struct {
		status int
		body   []byte
		err    error
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	done := make(chan result, 1)
	go func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(method)
		req.SetRequestURI(uri)
		req.Header.Set("Accept", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		// The API takes writes only as JSON (a DELETE without a body may
		// go without).
		if payload != nil || method == fasthttp.MethodPost || method == fasthttp.MethodPut || method == fasthttp.MethodPatch {
			req.Header.SetContentType("application/json")
		}
		if payload != nil {
			req.SetBodyRaw(payload)
		}
		err := c.hc.DoDeadline(req, resp, deadline)
		if errors.Is(err, fasthttp.ErrTimeout) {
			err = fmt.Errorf("no answer within %v: %w", c.timeout, err)
		}
		done <- result{resp.StatusCode(), bytes.Clone(resp.Body()), err}
	}()
	select {
	case r := <-done:
		return r.status, r.body, r.err
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// decodeError turns a non-2xx answer into an *APIError, or an *HTTPError
// when the body is not the API's error object.
func decodeError(method, path string, status int, raw []byte) error {
	var env adminapi.ErrorAnswer
	if json.Unmarshal(raw, &env) == nil && env.Error != nil && env.Error.Code != "" {
		return &APIError{Status: status, Code: env.Error.Code, Message: env.Error.Message, Details: env.Error.Details}
	}
	body := strings.TrimSpace(string(raw))
	if len(body) > maxErrBody {
		body = body[:maxErrBody] + "…"
	}
	return &HTTPError{Method: method, Path: path, Status: status, Body: body}
}
