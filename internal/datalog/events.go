package datalog

import (
	"strconv"
	"time"

	"medispatcher/internal/redact"
)

// The helpers below are the only way callers should produce lines: they fix
// the fields of each category.
//
// A line that carries a message (raw=: DECODERR, REDISTFAIL, RECOVFAIL*,
// DROP, and Write with raw) is durable: the helper returns nil only once the
// line is written and, unless Fsync is "never", fsynced; otherwise it
// returns why not (ErrQueueFull, ErrClosed, ErrNotDurable) and the caller
// must keep the message (not delete its job). Other lines (SENT, RESENT,
// DELFAIL, KICKFAIL, DecodeErrKept) return once queued.

// DecodeErr logs an undecodable main-tube job that is to be deleted: the
// line is its only copy (durable).
func (w *Writer) DecodeErr(raw []byte, reason string) error {
	return w.rawOnly(catDecodeErr, DecodeErr, raw, reason, true)
}

// DecodeErrKept logs an undecodable job that stays in beanstalkd (buried):
// the line is a trace, so it returns once queued, never waiting for a disk.
func (w *Writer) DecodeErrKept(raw []byte, reason string) error {
	return w.rawOnly(catDecodeErr, DecodeErr, raw, reason, false)
}

// RecovFailBack logs a recover-list message that could be put neither into
// the main tube nor back onto the list.
func (w *Writer) RecovFailBack(raw []byte, reason string) error {
	return w.rawOnly(catRecovFailBack, RecovFailBack, raw, reason, true)
}

// RecovFailDecode logs an undecodable recover-list entry.
func (w *Writer) RecovFailDecode(raw []byte, reason string) error {
	return w.rawOnly(catRecovFailDecode, RecovFailDecode, raw, reason, true)
}

// RecovFailAssert logs a recover-list entry of the wrong type.
func (w *Writer) RecovFailAssert(raw []byte, reason string) error {
	return w.rawOnly(catRecovFailAssert, RecovFailAssert, raw, reason, true)
}

// rawOnly writes "reason=… raw=…"; durable says whether the caller waits
// for the line to be on disk (it is then the message's only copy).
func (w *Writer) rawOnly(idx int, cat Category, raw []byte, reason string, durable bool) error {
	l := w.begin(idx, cat)
	if l == nil {
		return nil
	}
	l.b = append(l.b, " reason="...)
	l.b = appendValue(l.b, reason)
	l.b = appendRaw(l.b, raw)
	if !durable {
		return w.send(l)
	}
	return w.sendDurable(l)
}

// RedistFail logs a main-tube job that could not be put into the channel of
// subscription subID of topic; job is the encoded job that was to be put.
func (w *Writer) RedistFail(topic string, subID int64, job []byte, reason string) error {
	return w.subJob(catRedistFail, RedistFail, topic, subID, job, reason)
}

// Drop logs a job the backlog guard diverted from the channel of
// subscription subID to the drop log.
func (w *Writer) Drop(topic string, subID int64, job []byte, reason string) error {
	return w.subJob(catDrop, Drop, topic, subID, job, reason)
}

func (w *Writer) subJob(idx int, cat Category, topic string, subID int64, job []byte, reason string) error {
	l := w.begin(idx, cat)
	if l == nil {
		return nil
	}
	l.b = append(l.b, " topic="...)
	l.b = appendValue(l.b, topic)
	l.b = append(l.b, " sub="...)
	l.b = strconv.AppendInt(l.b, subID, 10)
	l.b = append(l.b, " reason="...)
	l.b = appendValue(l.b, reason)
	l.b = appendRaw(l.b, job)
	return w.sendDurable(l)
}

// DelFail logs a job of tube on server that could not be deleted (it will
// be delivered again).
func (w *Writer) DelFail(server, tube string, id uint64, reason string) error {
	return w.jobRef(catDelFail, DelFail, server, tube, id, reason)
}

// KickFail logs a buried job of tube on server that could not be kicked.
func (w *Writer) KickFail(server, tube string, id uint64, reason string) error {
	return w.jobRef(catKickFail, KickFail, server, tube, id, reason)
}

func (w *Writer) jobRef(idx int, cat Category, server, tube string, id uint64, reason string) error {
	l := w.begin(idx, cat)
	if l == nil {
		return nil
	}
	l.b = append(l.b, " server="...)
	l.b = appendValue(l.b, server)
	l.b = append(l.b, " tube="...)
	l.b = appendValue(l.b, tube)
	l.b = append(l.b, " job="...)
	l.b = strconv.AppendUint(l.b, id, 10)
	l.b = append(l.b, " reason="...)
	l.b = appendValue(l.b, reason)
	return w.send(l)
}

// Sent logs one push to a subscriber: SENT for a first push, RESENT for a
// retry (resent). jsonBody, the message field pushed, is omitted when nil.
// dest is url with its userinfo masked (redact.URL). This is the hot path:
// it does not allocate (a URL with userinfo costs one masked copy).
func (w *Writer) Sent(resent bool, topic []byte, subID int64, ok bool, code int, elapsed time.Duration, url string, jsonBody []byte) error {
	idx, cat := catSent, Sent
	if resent {
		idx, cat = catResent, Resent
	}
	l := w.begin(idx, cat)
	if l == nil {
		return nil
	}
	l.b = append(l.b, " topic="...)
	l.b = appendBytesValue(l.b, topic)
	l.b = append(l.b, " sub="...)
	l.b = strconv.AppendInt(l.b, subID, 10)
	if ok {
		l.b = append(l.b, " result=ok code="...)
	} else {
		l.b = append(l.b, " result=fail code="...)
	}
	l.b = strconv.AppendInt(l.b, int64(code), 10)
	l.b = append(l.b, " elapse="...)
	l.b = appendMillis(l.b, elapsed)
	l.b = append(l.b, " dest="...)
	l.b = appendValue(l.b, redact.URL(url))
	if jsonBody != nil {
		l.b = append(l.b, " data="...)
		l.b = appendBytesValue(l.b, jsonBody)
	}
	return w.send(l)
}

// Write logs a line of any category with the given fields and, when raw is
// not nil, the final raw= field (the line is then durable). Keys and category are reduced to their
// alphabets (see the package doc); the key "raw" is written as "raw_".
func (w *Writer) Write(cat Category, fields []Field, raw []byte) error {
	cat = cat.sanitize()
	l := w.begin(cat.index(), cat)
	if l == nil {
		return nil
	}
	l.b = appendFields(l.b, fields, raw)
	if raw != nil {
		return w.sendDurable(l)
	}
	return w.send(l)
}

// appendFields appends " key=value" for each field and, when raw is not
// nil, the final raw field.
func appendFields(dst []byte, fields []Field, raw []byte) []byte {
	for _, f := range fields {
		dst = appendKey(dst, f.Key)
		dst = appendValue(dst, f.Value)
	}
	if raw != nil {
		dst = appendRaw(dst, raw)
	}
	return dst
}
