package subs

import (
	"sync"

	"medispatcher/engine/dispatch/filter"
)

// maxCompiled bounds the cache of compiled filters; past it the cache
// starts over (expressions come from operators: a handful in practice).
const maxCompiled = 1024

// compiled caches compiled filters by source: a Filter is immutable, and
// every version of every subscription is validated, then built into a Set
// again on each change of any subscription; an expression is compiled
// once, not at each of these steps.
var compiled struct {
	sync.Mutex
	m map[string]*filter.Filter
}

// compileFilter compiles a subscription's filter: nil for none (""), the
// compile error for one that does not compile.
func compileFilter(src string) (*filter.Filter, error) {
	if src == "" {
		return nil, nil
	}
	compiled.Lock()
	f := compiled.m[src]
	compiled.Unlock()
	if f != nil {
		return f, nil
	}
	f, err := filter.Compile(src)
	if err != nil {
		return nil, err
	}
	compiled.Lock()
	if compiled.m == nil || len(compiled.m) >= maxCompiled {
		compiled.m = make(map[string]*filter.Filter)
	}
	compiled.m[src] = f
	compiled.Unlock()
	return f, nil
}
