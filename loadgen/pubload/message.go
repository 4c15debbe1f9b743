package pubload

import (
	"fmt"

	"medispatcher/engine/dispatch/message"
)

// AppendMessage appends the publish request's JSON message for the
// main-tube job job: {"topic": ..., "body": <the body as JSON>, "sender":
// ...}. body is the JSON body on its own, a sub-slice of the result (the
// farm's seq and ts are read from it).
func AppendMessage(dst, job []byte) (out, body []byte, err error) {
	var m message.Message
	if err := message.Decode(job, &m); err != nil {
		return dst, nil, fmt.Errorf("publish: read job: %w", err)
	}
	n := len(dst)
	dst = append(dst, `{"topic":`...)
	dst = appendJSONString(dst, m.Topic)
	dst = append(dst, `,"body":`...)
	from := len(dst)
	dst, err = message.AppendJSON(dst, m.Body)
	if err != nil {
		return dst[:n], nil, fmt.Errorf("publish: body of %s: %w", m.Topic, err)
	}
	to := len(dst)
	if len(m.Sender) > 0 {
		dst = append(dst, `,"sender":`...)
		dst = appendJSONString(dst, m.Sender)
	}
	dst = append(dst, '}')
	return dst, dst[from:to], nil
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, everything else as it is.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
