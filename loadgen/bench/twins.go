package bench

import (
	"reflect"
	"strings"
)

// Two fixed scenarios of the same load that differ in one daemon switch
// ("on" in one, anything else in the other) are twins: the bench sets the
// quoted run of the one with it on against the other's.

// daemonKeyOn reports whether s sets daemon key to "on".
func daemonKeyOn(s *Scenario, key string) bool {
	v, ok := s.Daemon[key].(string)
	return ok && strings.EqualFold(v, "on")
}

// eachTwin calls pair with every result of results that has what has
// looks for and runs with key on, and the first other result that has it
// too, runs with key off and ran the same load (rate and classes).
func eachTwin(results []*Result, has func(*Result) bool, key string, pair func(on, off *Result)) {
	eachTwinWith(results, has, func(s *Scenario) bool { return daemonKeyOn(s, key) }, pair)
}

// eachTwinWith is eachTwin with the switch told by on rather than by one
// daemon key set to "on".
func eachTwinWith(results []*Result, has func(*Result) bool, on func(*Scenario) bool, pair func(on, off *Result)) {
	for _, r := range results {
		if !has(r) || !on(r.S) {
			continue
		}
		for _, b := range results {
			if b != r && has(b) && !on(b.S) && b.S.Rate == r.S.Rate && reflect.DeepEqual(b.S.Class, r.S.Class) {
				pair(r, b)
				break
			}
		}
	}
}
