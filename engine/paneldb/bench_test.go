package paneldb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// fill stores n subscriptions over n/10 classes, each with three
// parameter rows, in batches of multi-row INSERTs.
func fill(b *testing.B, m *testsrv.MySQL, n int) {
	const batch = 500
	classes := max(1, n/10)
	var stmts []string
	for lo := 0; lo < classes; lo += batch {
		var v []string
		for i := lo; i < min(lo+batch, classes); i++ {
			v = append(v, fmt.Sprintf("(%d, 'topic.%d')", i+1, i))
		}
		stmts = append(stmts, "INSERT INTO message_classes (class_id, class_key) VALUES "+strings.Join(v, ","))
	}
	for lo := 0; lo < n; lo += batch {
		var sv, pv []string
		for i := lo; i < min(lo+batch, n); i++ {
			id := i + 1
			sv = append(sv, fmt.Sprintf("(%d, %d, %d, 'http://subscriber-%d.example/hook?x=1', 0, 1732500000, 2000)", id, i%classes+1, id, i))
			pv = append(pv, fmt.Sprintf("(%d, 'Concurrency', '4'), (%d, 'AlerterEmails', 'ops@example.com'), (%d, 'DropMessageThreshold', '20000')", id, id, id))
		}
		stmts = append(stmts,
			"INSERT INTO subscriptions (subscription_id, message_class_id, subscriber_id, reception_channel, status, subscribe_time, timeout) VALUES "+strings.Join(sv, ","),
			"INSERT INTO subscription_params (subscription_id, param_name, param_value) VALUES "+strings.Join(pv, ","))
	}
	m.Exec(b, stmts...)
}

// BenchmarkSourceRead5000 measures what watching 5 000 subscriptions (15
// 000 parameter rows) costs per poll: the probe run every PollInterval,
// and the full read (both queries and the set built) run after a change.
func BenchmarkSourceRead5000(b *testing.B) {
	m := testsrv.StartMySQL(b)
	m.Exec(b, Schema...)
	fill(b, m, 5000)
	db, err := Open(config.DatabaseConfig{Host: "127.0.0.1", Port: m.Port, User: m.User, Password: m.Password, DbName: m.DB})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := NewSource(db, "bench", 0, subs.Limits{}, nil)
	ctx := context.Background()

	b.Run("probe", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.probe(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			snap, err := s.read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if set, _, bad := s.merge(snap, nil); set.Len() != 5000 || bad != 0 {
				b.Fatalf("%d subscriptions, %d invalid", set.Len(), bad)
			}
		}
	})
}
