// Command loadgen drives medispatcher with a reproducible load and reports
// delivered/s, end-to-end latency, and an exact ledger of every message.
// This file only wires signals to package command, which reads the command
// line; it must hold no load-generating logic.
//
//	loadgen [run] --servers 127.0.0.1:11300 --subs-file subs.toml --topics 500 --rate 50k --duration 60s
//	loadgen farm  --addr 127.0.0.1:8090 --latency uniform:0s:2ms
//	loadgen ceiling --servers 127.0.0.1:11300
//	loadgen bench [--quick] (what `make bench` runs)
//	loadgen demo            (what `make run` runs)
//
// Exit codes: 0 valid run, 1 could not run, 2 usage, 3 void run (its
// figures must not be used), 4 valid run that lost or duplicated messages
// (with --strict).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"medispatcher/loadgen/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := command.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
