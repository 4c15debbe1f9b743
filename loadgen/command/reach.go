package command

import (
	"fmt"
	"net"

	"medispatcher/internal/probe"
)

// checkBeanstalkd makes sure every server answers before the run starts
// anything, and otherwise says how to get one: `loadgen run` drives a
// daemon that is already running and starts no server itself.
func checkBeanstalkd(servers []string) error {
	for _, addr := range servers {
		if err := probe.Ping(probe.Beanstalkd, addr); err != nil {
			return fmt.Errorf("no beanstalkd answers at %s (%w)\n%s", addr, err, startHint(addr))
		}
	}
	return nil
}

// startHint tells how to get a beanstalkd (and a daemon) at addr.
func startHint(addr string) string {
	port := "11300"
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
		port = p
	}
	return fmt.Sprintf(`loadgen run drives a medispatcher that is already running, with its beanstalkd. Either
  - run "make run" (or "bin/loadgen demo"): it starts private beanstalkd, redis-server and
    medispatcher processes on loopback and drives them, or
  - start one yourself: beanstalkd -l 127.0.0.1 -p %s, then a medispatcher whose
    QueueServerAddr is 127.0.0.1:%s, and run loadgen again with --servers 127.0.0.1:%s`, port, port, port)
}
