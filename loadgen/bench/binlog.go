package bench

import (
	"fmt"
	"os"
)

// The durability of a scenario's beanstalkd (scenario key binlog).
const (
	BinlogOff   = "off"   // jobs in memory only (the default)
	BinlogOn    = "on"    // -b DIR: every job written to a binlog, fsync left to the kernel
	BinlogFsync = "fsync" // -b DIR -f 0: an fsync after every binlog write
)

// checkBinlog fails on a binlog setting other than off, on and fsync;
// "" is off.
func checkBinlog(v string) error {
	switch v {
	case "", BinlogOff, BinlogOn, BinlogFsync:
		return nil
	}
	return fmt.Errorf("binlog = %q (off, on, fsync)", v)
}

// binlogArgs returns the beanstalkd flags of setting v, with a binlog
// directory of its own created in dir.
func binlogArgs(v, dir string) ([]string, error) {
	if v == "" || v == BinlogOff {
		return nil, nil
	}
	bdir, err := os.MkdirTemp(dir, "binlog-")
	if err != nil {
		return nil, fmt.Errorf("binlog dir: %w", err)
	}
	if v == BinlogFsync {
		return []string{"-b", bdir, "-f", "0"}, nil
	}
	return []string{"-b", bdir}, nil
}

// binlogNote says how a scenario's beanstalkd keeps its jobs, "" when in
// memory only.
func binlogNote(v string) string {
	switch v {
	case BinlogOn:
		return "beanstalkd with a binlog (`-b DIR`), no fsync"
	case BinlogFsync:
		return "beanstalkd with a binlog and an fsync per write (`-b DIR -f 0`)"
	}
	return ""
}
