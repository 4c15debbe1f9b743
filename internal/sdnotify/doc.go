// Package sdnotify tells the service manager (systemd) how the process is
// doing, as a unit of Type=notify expects: the sd_notify protocol, written
// out in full here since it is a few lines.
//
// # Protocol
//
// The service manager names a unix datagram socket in $NOTIFY_SOCKET: a
// file system path, or an abstract socket when the name starts with '@'
// (the '@' stands for the leading NUL byte of the abstract name). Each
// notification is one datagram of newline-separated KEY=VALUE
// assignments. The ones used here:
//
//   - READY=1: start-up is finished; the service manager considers the
//     unit started (and units ordered after it may start) only then;
//   - STOPPING=1: the process is shutting down;
//   - RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>: a reload of
//     the configuration began; READY=1 ends it (systemd 253 and later
//     want the clock value to match the reload to its request);
//   - WATCHDOG=1: the process is alive; with WatchdogSec= in the unit,
//     the service manager kills and restarts a process whose pings stop
//     for longer than that;
//   - STATUS=<text>: one line shown by `systemctl status`.
//
// The watchdog interval comes in $WATCHDOG_USEC (microseconds). When
// $WATCHDOG_PID is set too, the interval is meant for that process only:
// a child that inherited the environment must not ping for its parent.
//
// Without $NOTIFY_SOCKET (the process was not started by systemd, or by a
// unit of another type) every notification is a no-op, so callers need no
// special case.
package sdnotify
