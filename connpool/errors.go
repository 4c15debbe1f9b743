package connpool

import (
	"errors"
	"fmt"
	"os"
)

// Errors added to the agreed set in api.go.
var (
	// ErrConnLost: the connection broke after the request was written and
	// before its answer arrived. The server may or may not have applied it,
	// so a put failing with it must not be retried blindly.
	ErrConnLost = errors.New("beanstalkd: connection lost before the answer (request may have been applied)")
	// ErrBadTubeName: the tube name is not a valid beanstalkd name. Checked
	// before anything is written: a rejected `use` would make the next put
	// land in the previously used tube.
	ErrBadTubeName = errors.New("connpool: invalid tube name")
	// ErrProtocol: the server answered something the protocol does not
	// allow at that point; the link is closed and reconnected.
	ErrProtocol = errors.New("beanstalkd: protocol error")
)

func (e *ServerError) Error() string { return "beanstalkd: " + e.Op + ": " + e.Reply }

// linkError turns the reason a connection broke into the error given to
// requests that were already written on it.
func linkError(cause error) error {
	switch {
	case errors.Is(cause, ErrClosed), errors.Is(cause, ErrTimeout):
		return cause
	case errors.Is(cause, os.ErrDeadlineExceeded):
		return ErrTimeout
	default:
		return fmt.Errorf("%w: %w", ErrConnLost, cause)
	}
}
