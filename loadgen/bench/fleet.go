package bench

import (
	"fmt"
	"reflect"
)

// isFleet reports whether r ran more than one daemon or beanstalkd
// server: its figures are a fleet's.
func (r *Result) isFleet() bool { return r.Daemons > 1 || r.Servers > 1 }

// fleetCell is r's daemons × beanstalkd servers for the table; "—" for a
// result that does not say.
func fleetCell(r *Result) string {
	if r.Daemons <= 0 || r.Servers <= 0 {
		return "—"
	}
	return fmt.Sprintf("%d × %d", r.Daemons, r.Servers)
}

// noteFleets adds to each fleet result what its figures are, and, when an
// earlier result of the same run put the same load on one daemon and one
// server, the cost per message of both: the scale-out model is linear as
// long as a fleet's CPU per message stays that of one daemon and server.
func noteFleets(results []*Result) {
	for i, r := range results {
		if !r.isFleet() {
			continue
		}
		r.Notes = append(r.Notes, fmt.Sprintf("%d daemons on %d beanstalkd servers: the daemon CPU is all daemons' summed, "+
			"the peak RSS the largest daemon's, a CPU profile the first daemon's", r.Daemons, r.Servers))
		if base := singleTwin(r, results[:i]); base != nil {
			r.Notes = append(r.Notes, costNote(r, base))
		}
	}
}

// singleTwin is the first of earlier that put r's load (kind, classes,
// size, binlog, subscription source) on one daemon and one server, with
// valid quoted runs for both; nil if none.
func singleTwin(r *Result, earlier []*Result) *Result {
	if !quotable(r) {
		return nil
	}
	for _, b := range earlier {
		if b.Daemons != 1 || b.Servers != 1 || !quotable(b) {
			continue
		}
		x, y := r.S, b.S
		if x.Kind == y.Kind && x.Size == y.Size && x.Binlog == y.Binlog && x.Source == y.Source && reflect.DeepEqual(x.Class, y.Class) {
			return b
		}
	}
	return nil
}

// quotable reports whether r has a scenario and a valid quoted run.
func quotable(r *Result) bool {
	return r.S != nil && r.Main != nil && r.Main.Report != nil && !r.Main.Report.Void && r.Main.CPUPer1k > 0
}

// costNote compares fleet f's quoted run with base's: delivered rate,
// messages per daemon CPU-second and beanstalkd CPU per 1000 messages.
func costNote(f, base *Result) string {
	fm, bm := f.Main, base.Main
	return fmt.Sprintf("against %s (1 daemon, 1 server) in this run: delivered %.0f vs %.0f msgs/s; "+
		"%.0f vs %.0f msgs per daemon CPU-second (daemon CPU %.3f vs %.3f s per 1k msgs, %s); beanstalkd CPU %s vs %s s per 1k msgs",
		base.Name, fm.Report.DeliveredRate, bm.Report.DeliveredRate, 1000/fm.CPUPer1k, 1000/bm.CPUPer1k,
		fm.CPUPer1k, bm.CPUPer1k, ratioOf(fm.CPUPer1k, bm.CPUPer1k), cpuCell(fm.BeanstalkdCPUPer1k), cpuCell(bm.BeanstalkdCPUPer1k))
}
