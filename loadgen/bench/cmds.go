package bench

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beanstalkd/go-beanstalk"
)

// BeanstalkdCmds sums the cmd-* counters of stats over e's beanstalkd
// servers (a server that does not answer counts nothing): what the
// producer, the daemon and the bench asked of them.
func (e *Env) BeanstalkdCmds() map[string]int64 {
	sum := map[string]int64{}
	for _, addr := range e.Servers() {
		c, err := beanstalk.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			continue
		}
		st, err := c.Stats()
		c.Close()
		if err != nil {
			continue
		}
		for k, v := range st {
			if !strings.HasPrefix(k, "cmd-") {
				continue
			}
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				sum[strings.TrimPrefix(k, "cmd-")] += n
			}
		}
	}
	return sum
}

// cmdsPerMsg is the commands of each kind between two BeanstalkdCmds
// snapshots per message delivered (kinds not used left out).
func cmdsPerMsg(before, after map[string]int64, delivered int64) map[string]float64 {
	if delivered <= 0 {
		return nil
	}
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = float64(d) / float64(delivered)
		}
	}
	return out
}

// cmdsText lists per-message command counts, most frequent first, with
// their total.
func cmdsText(per map[string]float64) string {
	if len(per) == 0 {
		return ""
	}
	keys := make([]string, 0, len(per))
	total := 0.0
	for k, v := range per {
		keys = append(keys, k)
		total += v
	}
	sort.Slice(keys, func(i, j int) bool {
		if per[keys[i]] != per[keys[j]] {
			return per[keys[i]] > per[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", k, per[k])
	}
	return fmt.Sprintf("beanstalkd commands per message: %.2f (%s)", total, strings.Join(parts, ", "))
}
