package publish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"medispatcher/engine/ops/adminapi"
)

// batchEnvelope is a batch request with its messages still raw, so that a
// bad message fails alone.
type batchEnvelope struct {
	Messages []json.RawMessage `json:"messages"`
}

// decodeStrict reads exactly one JSON value into v, refusing unknown
// fields (a typo in a field name must not be silently ignored). Input that
// is not JSON is a 400, JSON of the wrong shape a 422.
func decodeStrict(data []byte, what string, v any) *problem {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return problemf(statusBadRequest, codeBadRequest, "%s: more than one JSON value", what)
		}
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return problemf(statusBadRequest, codeBadRequest, "%s: not JSON: %v", what, err)
	}
	return problemf(statusInvalid, codeInvalid, "%s: %v", what, err)
}

// decodeMessage reads and checks one message.
func decodeMessage(data []byte, what string) (*adminapi.PublishMessage, *problem) {
	var m adminapi.PublishMessage
	if p := decodeStrict(data, what, &m); p != nil {
		return nil, p
	}
	if p := checkMessage(&m, what); p != nil {
		return nil, p
	}
	return &m, nil
}

// checkMessage checks what the JSON decoder cannot: the required fields.
func checkMessage(m *adminapi.PublishMessage, what string) *problem {
	switch {
	case m.Topic == "":
		return problemf(statusInvalid, codeInvalid, "%s: topic is required", what)
	case m.Body == nil:
		return problemf(statusInvalid, codeInvalid, "%s: body is required (any JSON value, null included)", what)
	}
	return nil
}

// decodeBatch reads a batch envelope and checks its size; its messages
// are decoded one by one when published.
func decodeBatch(data []byte, max int) ([]json.RawMessage, *problem) {
	var env batchEnvelope
	if p := decodeStrict(data, "body", &env); p != nil {
		return nil, p
	}
	switch n := len(env.Messages); {
	case env.Messages == nil:
		return nil, problemf(statusInvalid, codeInvalid, `body: "messages" (an array of messages) is required`)
	case n == 0:
		return nil, problemf(statusInvalid, codeInvalid, "body: messages is empty")
	case n > max:
		return nil, problemf(statusTooLarge, codeTooLarge, "body: %d messages, at most %d (PublishMaxBatch) in one batch", n, max)
	}
	return env.Messages, nil
}

// messageName names message i of a batch in errors.
func messageName(i int) string { return fmt.Sprintf("messages[%d]", i) }
