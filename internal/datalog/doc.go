// Package datalog writes the DATA log of medispatcher: one text line per
// event that an operator or a replay tool must be able to find later. For
// several categories (REDISTFAIL, RECOVFAILBACK, DECODERR, DROP, …) the line
// is the only remaining copy of a message, so the format is a contract with
// operators' scripts and with the replay tool, which reads lines back with
// ParseLine.
//
// The package must never block a caller for long on a slow or full disk,
// never write a line that a line-oriented tool would split in two, and never
// lose a line silently: every line that does not reach the file is counted
// (Stats, Dropped and the metrics below).
//
// # Line format
//
//	line     = timestamp SP category *(SP field) [SP "raw=" base64] LF
//	timestamp= RFC 3339 local time with microseconds: 2026-11-25T14:03:07.123456+08:00
//	category = 1*( "A"-"Z" / "0"-"9" / "_" )          e.g. REDISTFAIL
//	field    = key "=" value
//	key      = 1*( ALPHA / DIGIT / "_" / "." / "-" )   never "raw"
//	value    = bare / quoted
//	bare     = printable UTF-8 without space or control characters, not
//	           starting with a double quote; taken literally (a backslash or
//	           "=" in a bare value is just that byte)
//	quoted   = a Go double-quoted string (strconv.Quote syntax: \" \\ \n
//	           \t \xNN \uNNNN …), used for empty values and for values that
//	           hold spaces, control characters, invalid UTF-8 or start with "
//	base64   = standard base64 with padding (RFC 4648 §4) of the raw bytes
//
// Fields are separated by exactly one space. Raw message bytes (binary
// msgpack jobs) are carried by the optional final field raw=, always base64,
// so that every byte value survives; "raw=" with nothing after it is an
// empty job. A line never contains a raw newline, carriage return or other
// control byte, so grep, awk and tail -f see one event per line.
//
// The typed helpers write these fields (mapping to the old daemon's format in
// brackets):
//
//	DECODERR        reason=… raw=…                       [DECODERR <raw>]
//	REDISTFAIL      topic=… sub=… reason=… raw=…         [REDISTFAIL <topic> <subscriptionId> <encoded job>]
//	RECOVFAILBACK   reason=… raw=…                       [RECOVFAILBACK <raw>]
//	RECOVFAILDECODE reason=… raw=…
//	RECOVFAILASSERT reason=… raw=…
//	DELFAIL         server=… tube=… job=… reason=…
//	KICKFAIL        server=… tube=… job=… reason=…
//	DROP            topic=… sub=… reason=… raw=…
//	SENT, RESENT    topic=… sub=… result=ok|fail code=… elapse=12.345ms dest=<url> [data=<json body>]
//	                                                     [SENT key:… result:… code:… elapse:…ms dest:<url> DATA: <json>]
//
// Example lines:
//
//	2026-11-25T14:03:07.123456+08:00 REDISTFAIL topic=order_paid sub=17 reason="put order_paid/sub-queue/17: i/o timeout" raw=haZtc2dLZXmq…
//	2026-11-25T14:03:07.200001+08:00 SENT topic=order_paid sub=17 result=ok code=200 elapse=3.021ms dest=http://10.0.0.5/hook?x=1 data={"id":42}
//
// # Files
//
// Files are created in Config.Dir, named after Config.Prefix ("DATA" by
// default). With Split (the old SplitLog = true) there is one file per local
// day holding every category, DATA.2026-11-25.log; a line goes to the file of
// the day of its own timestamp, so a new file starts at local midnight.
// Without Split there is one file per category, DATA.REDISTFAIL.log,
// DATA.SENT.log, …, never rotated by this package. Files are opened with
// O_APPEND: an external rotation must copy and truncate.
//
// The drop log of the backlog guard (DropMessageLogDir) is a second Writer,
// usually with Prefix "DROP", that receives DROP lines.
//
// # Queue and loss policy
//
// Callers format the line into a pooled buffer and hand it to one background
// goroutine through a queue bounded in lines (Config.Buffer) and in bytes
// (Config.BufferBytes, 64 MiB). When the queue is full:
//   - SENT and RESENT lines are dropped at once (they are a trace, not data);
//   - every other category carries the only copy of a message, so the caller
//     waits up to Config.ImportantWait (1 s by default) for room, and the
//     line is dropped only after that.
//
// A dropped line is counted in medispatcher_datalog_lost_lines_total
// {reason="queue_full"} and the helper returns ErrQueueFull, so a caller that
// still holds the message may keep it elsewhere. Lines offered after Close
// are counted with reason="closed" (ErrClosed). Every offered line is counted
// in medispatcher_datalog_lines_total{category="…"}.
//
// The background goroutine appends lines to a per-file buffer and writes it
// whenever the queue runs empty or the buffer passes 64 KiB. A failed write
// (ENOSPC, EIO, …) loses the lines of that buffer: they are counted with
// reason="write_error", any partial line is cut off the file again so the
// file stays line-clean, and the failure is logged with slog at most once per
// 10 s. The writer keeps running and writes again as soon as the disk does.
//
// # Durable lines
//
// A line that carries a message (it has raw=) is that message's only copy
// once the caller deletes the job, and it is that only once it is on disk.
// Its helper (DecodeErr, RedistFail, RecovFail*, Drop, Write with raw)
// therefore waits: it returns nil once the line is written and, unless
// Fsync is "never", fsynced — whatever the Fsync policy says for other
// lines. Lines queued together share one write and one fsync (group
// commit), so a burst costs one fsync, not one each. Otherwise the helper
// returns ErrQueueFull, ErrClosed or ErrNotDurable (write or fsync failed,
// the writer was closed before the line, or no answer within
// Config.DurableWait, 10 s) and the caller keeps the message: it does not
// delete the job (medispatcher_datalog_not_durable_total counts these).
// Lines without a message (SENT, RESENT, DELFAIL, KICKFAIL, and
// DecodeErrKept for a job that stays buried) return once queued.
//
// # Durability of the other lines (Config.Fsync)
//
//   - "interval" (default): files written to are fsynced once per second,
//     by a goroutine of their own so that a slow fsync never stops the
//     queue from draining; a machine crash loses about a second of lines.
//   - "always": every batch is fsynced before the next is taken from the
//     queue (group commit: callers never wait for it and a burst shares one
//     fsync, but a slow disk then fills the queue sooner).
//   - "never": fsync is left to the operating system.
//
// Close always flushes what is queued (bounded by its context) and fsyncs.
package datalog
