package config

import (
	"errors"
	"fmt"
	"strconv"

	"medispatcher/internal/redact"
)

// ErrInvalid is wrapped by every FieldError: errors.Is(err, ErrInvalid) is
// true for a configuration that parsed but holds values we cannot run with.
var ErrInvalid = errors.New("invalid configuration value")

// FieldError is one invalid value: the key, the value found and what is
// allowed. Error never shows the value of a secret key (redact.SecretKey:
// "(hidden)") nor the userinfo of a URL.
type FieldError struct {
	Key   string
	Value any
	// Want says what is allowed, e.g. "host:port[,host:port...]".
	Want string
	// Detail is the underlying reason, if any ("missing port in address").
	Detail string
}

func (e *FieldError) Error() string {
	v := e.Value
	if redact.SecretKey(e.Key) {
		v = "(hidden)"
	} else if s, ok := v.(string); ok {
		v = strconv.Quote(redact.URL(s))
	}
	msg := fmt.Sprintf("%s = %v: want %s", e.Key, v, e.Want)
	if e.Detail != "" {
		msg += " (" + redact.URL(e.Detail) + ")"
	}
	return msg
}

func (e *FieldError) Unwrap() error { return ErrInvalid }
