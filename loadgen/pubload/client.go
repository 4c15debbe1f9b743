package pubload

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// The publish API's routes.
const (
	PathMessages = "/api/v1/messages"
	PathBatch    = "/api/v1/messages/batch"
)

// Answer is the API's answer for one message: where the job went (JobID
// and Server), or the recover list it was parked on while beanstalkd was
// unreachable, or, in a batch, the message's own error.
type Answer struct {
	JobID       uint64    `json:"job_id,omitempty"`
	Server      string    `json:"server,omitempty"`
	RecoverList string    `json:"recover_list,omitempty"`
	Error       *APIError `json:"error,omitempty"`
}

// APIError is the API's error shape, {"error": {"code", "message"}}.
type APIError struct {
	Status  int    `json:"-"` // HTTP status of a whole-request error; 0 in a batch result
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("publish: %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("publish: %s: %s", e.Code, e.Message)
}

// ErrAnswer: the API answered something that is not the publish wire.
var ErrAnswer = errors.New("publish: unexpected answer")

// Client publishes over one keep-alive fasthttp host client.
type Client struct {
	hc      *fasthttp.HostClient
	auth    string // "Bearer <token>", or "" on loopback without a token
	timeout time.Duration
}

// NewClient is a client of the publish API at addr (host:port) with up
// to conns connections, sending token as the bearer token unless empty.
func NewClient(addr, token string, conns int) *Client {
	c := &Client{
		hc: &fasthttp.HostClient{
			Addr:                addr,
			Name:                "loadgen-publish",
			MaxConns:            max(conns, 1),
			MaxIdleConnDuration: time.Minute,
			ReadTimeout:         30 * time.Second,
			WriteTimeout:        30 * time.Second,
		},
		timeout: 30 * time.Second,
	}
	if token != "" {
		c.auth = "Bearer " + token
	}
	return c
}

// Publish sends one message (a JSON object) and returns the API's answer.
func (c *Client) Publish(msg []byte) (Answer, error) {
	var a Answer
	err := c.post(PathMessages, msg, fasthttp.StatusAccepted, &a)
	return a, err
}

// PublishBatch sends body ({"messages": [...]}) of n messages and returns
// one answer per message, in order.
func (c *Client) PublishBatch(body []byte, n int) ([]Answer, error) {
	var r struct {
		Results []Answer `json:"results"`
	}
	if err := c.post(PathBatch, body, fasthttp.StatusOK, &r); err != nil {
		return nil, err
	}
	if len(r.Results) != n {
		return nil, fmt.Errorf("%w: %d results for %d messages", ErrAnswer, len(r.Results), n)
	}
	return r.Results, nil
}

// post sends body to path and decodes a want-status answer into out; any
// other status is the API's error.
func (c *Client) post(path string, body []byte, want int, out any) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://" + c.hc.Addr + path)
	req.Header.SetContentType("application/json")
	if c.auth != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, c.auth)
	}
	req.SetBodyRaw(body)
	if err := c.hc.DoTimeout(req, resp, c.timeout); err != nil {
		return fmt.Errorf("publish: POST %s: %w", path, err)
	}
	if st := resp.StatusCode(); st != want {
		e := struct {
			Error APIError `json:"error"`
		}{}
		if json.Unmarshal(resp.Body(), &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("%w: status %d: %.200q", ErrAnswer, st, resp.Body())
		}
		e.Error.Status = st
		return &e.Error
	}
	if err := json.Unmarshal(resp.Body(), out); err != nil {
		return fmt.Errorf("%w: %v", ErrAnswer, err)
	}
	return nil
}

// Check is the error of one message's answer: its own error in a batch,
// or an answer that names neither a job nor a recover list.
func (a *Answer) Check() error {
	switch {
	case a.Error != nil:
		return a.Error
	case a.JobID == 0 && a.RecoverList == "":
		return fmt.Errorf("%w: neither job_id nor recover_list", ErrAnswer)
	}
	return nil
}

// Close closes the idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }
