// Command medictl operates a medispatcher daemon through its admin API:
// status, subscriptions and their live parameters, queue cleaning, kicks,
// failure records and re-sends, recover lists and alerts. It only parses
// the command line into package ctl, which holds the commands.
package main

import (
	"context"
	"io"
	"os"

	"medispatcher/engine/ops/cli"
	"medispatcher/engine/ops/ctl"
)

func main() {
	cli.Main(func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return ctl.Run(ctx, args, ctl.Env{
			Stdin: os.Stdin, Stdout: stdout, Stderr: stderr,
			Interactive: ctl.IsTerminal(os.Stdin), Getenv: os.Getenv,
		})
	})
}
