package datalog

import "github.com/VictoriaMetrics/metrics"

// Category is the event kind, the second token of a line.
type Category string

// The categories of the DATA log and of the drop log; operators' tools
// (replay, grep) match these exact words.
const (
	// RecovFailBack: a message popped from a recover list (Redis) could not
	// be put into the main tube nor pushed back onto the list. The line holds
	// the only copy; the replay tool puts it back.
	RecovFailBack Category = "RECOVFAILBACK"
	// RedistFail: a main-tube message could not be put into a subscription's
	// channel tube and was deleted from the main tube. The line holds the
	// only copy for that subscription; the replay tool puts it back.
	RedistFail Category = "REDISTFAIL"
	// RecovFailDecode: an entry of a recover list is not a decodable message.
	RecovFailDecode Category = "RECOVFAILDECODE"
	// RecovFailAssert: an entry of a recover list decoded to a value of the
	// wrong type (not a message map).
	RecovFailAssert Category = "RECOVFAILASSERT"
	// DelFail: a processed job could not be deleted; it will be delivered
	// again (duplicate likely).
	DelFail Category = "DELFAIL"
	// DecodeErr: a main-tube job could not be decoded and was deleted.
	DecodeErr Category = "DECODERR"
	// KickFail: a buried job could not be kicked back to ready; it is not
	// delivered until an operator kicks it.
	KickFail Category = "KICKFAIL"
	// Resent: a retry push to a subscriber (trace; may be dropped under load).
	Resent Category = "RESENT"
	// Sent: a first push to a subscriber (trace; may be dropped under load).
	Sent Category = "SENT"
	// Drop: a message the backlog guard wrote to the drop log instead of the
	// channel (DropMessageThresholdAction 1). The line holds the only copy.
	Drop Category = "DROP"
)

// catIndex numbers the known categories for the fixed metric table; unknown
// categories (generic Write) use catOther.
const (
	catRecovFailBack = iota
	catRedistFail
	catRecovFailDecode
	catRecovFailAssert
	catDelFail
	catDecodeErr
	catKickFail
	catResent
	catSent
	catDrop
	numKnown
	catOther = numKnown
)

var knownCats = [numKnown]Category{
	RecovFailBack, RedistFail, RecovFailDecode, RecovFailAssert, DelFail,
	DecodeErr, KickFail, Resent, Sent, Drop,
}

// Metrics are process-wide, like the log directory they describe; they are
// declared here, where they are counted.
var (
	linesTotal = func() (c [numKnown]*metrics.Counter) {
		for i, cat := range knownCats {
			c[i] = metrics.NewCounter(`medispatcher_datalog_lines_total{category="` + string(cat) + `"}`)
		}
		return c
	}()
	lostQueueFull  = metrics.NewCounter(`medispatcher_datalog_lost_lines_total{reason="queue_full"}`)
	lostWriteError = metrics.NewCounter(`medispatcher_datalog_lost_lines_total{reason="write_error"}`)
	lostClosed     = metrics.NewCounter(`medispatcher_datalog_lost_lines_total{reason="closed"}`)
	// notDurable counts durable lines whose callers were told the line is
	// not on disk (they keep the message instead).
	notDurable = metrics.NewCounter(`medispatcher_datalog_not_durable_total`)
)

func (c Category) index() int {
	for i, k := range knownCats {
		if k == c {
			return i
		}
	}
	return catOther
}

// Important reports whether lines of c carry the only copy of a message
// and therefore wait for room in a full queue instead of being dropped at
// once. Only SENT and RESENT are not; unknown categories are.
func (c Category) Important() bool { return c != Sent && c != Resent }

// valid reports whether c may be written as is: 1*(A-Z / 0-9 / _).
func (c Category) valid() bool {
	if c == "" {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !isCatByte(c[i]) {
			return false
		}
	}
	return true
}

// sanitize maps any category to a valid one, so that a bad name from a
// caller cannot break the line format.
func (c Category) sanitize() Category {
	if c.valid() {
		return c
	}
	if c == "" {
		return "UNKNOWN"
	}
	b := []byte(c)
	for i, x := range b {
		switch {
		case isCatByte(x):
		case x >= 'a' && x <= 'z':
			b[i] = x - 'a' + 'A'
		default:
			b[i] = '_'
		}
	}
	return Category(b)
}

func isCatByte(x byte) bool {
	return x >= 'A' && x <= 'Z' || x >= '0' && x <= '9' || x == '_'
}

func countLine(idx int, c Category) {
	if idx < numKnown {
		linesTotal[idx].Inc()
		return
	}
	// Rare: categories outside the known set, written through Write.
	metrics.GetOrCreateCounter(`medispatcher_datalog_lines_total{category="` + string(c) + `"}`).Inc()
}
