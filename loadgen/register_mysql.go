package loadgen

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
)

// ownClasses matches the class_key of every topic loadgen registers
// (TopicName): the rows it may replace.
const ownClasses = "lg.t%"

// insertBatch is how many rows one INSERT carries.
const insertBatch = 500

// registerMySQL stores list in the 2.x tables of database d, in one
// transaction, the way the control panel would: a message_classes row per
// topic, a subscribers row per subscriber, a subscriptions row (URL in
// reception_channel, push timeout in timeout, status 0: active) and the
// subscription_params rows of paneldb.ParamsOf. The subscriptions of an
// earlier run (those of loadgen's topics, or with one of list's ids) and
// their parameters go first; classes and subscribers stay.
func registerMySQL(ctx context.Context, d config.DatabaseConfig, list []*subs.Subscription) error {
	for _, s := range list {
		// 2.x has no parameter for a token bucket: the daemon would never
		// limit the subscription, and the farm would count every push.
		if s.Rate > 0 {
			return fmt.Errorf("mysql: subscription %d: the 2.x tables cannot hold a rate limit", s.ID)
		}
	}
	db, err := paneldb.Open(d)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mysql %s: %w", d.Addr(), err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if err := replaceSubscriptions(ctx, tx, list); err != nil {
		return fmt.Errorf("mysql %s: %w", d.Addr(), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mysql %s: commit: %w", d.Addr(), err)
	}
	return nil
}

// replaceSubscriptions deletes the earlier run's rows and inserts list's.
func replaceSubscriptions(ctx context.Context, tx *sql.Tx, list []*subs.Subscription) error {
	if err := deleteOwn(ctx, tx, list); err != nil {
		return err
	}
	classes, err := ensureClasses(ctx, tx, list)
	if err != nil {
		return err
	}
	var subscribers, rows, params [][]any
	now := time.Now().Unix()
	for _, s := range list {
		subscribers = append(subscribers, []any{s.SubscriberID, "loadgen", fmt.Sprintf("lg.s%d", s.SubscriberID)})
		rows = append(rows, []any{s.ID, classes[s.Topic], s.SubscriberID, s.URL, 0, now, s.TimeoutMS})
		for _, p := range paneldb.ParamsOf(s) {
			params = append(params, []any{s.ID, p.Name, p.Value})
		}
	}
	if err := insertRows(ctx, tx, "INSERT IGNORE INTO subscribers (subscriber_id, subscriber_name, subscriber_key)", subscribers); err != nil {
		return err
	}
	if err := insertRows(ctx, tx, "INSERT INTO subscriptions (subscription_id, message_class_id, subscriber_id, reception_channel, status, subscribe_time, timeout)", rows); err != nil {
		return err
	}
	return insertRows(ctx, tx, "INSERT INTO subscription_params (subscription_id, param_name, param_value)", params)
}

// deleteOwn deletes the subscriptions of loadgen's topics and those with
// one of list's ids, with their parameter rows.
func deleteOwn(ctx context.Context, tx *sql.Tx, list []*subs.Subscription) error {
	lo, hi := idRange(list)
	own := `SELECT s.subscription_id FROM subscriptions s INNER JOIN message_classes c ON (s.message_class_id = c.class_id) WHERE c.class_key LIKE ?
		UNION SELECT subscription_id FROM subscriptions WHERE subscription_id BETWEEN ? AND ?`
	var ids []any
	rs, err := tx.QueryContext(ctx, own, ownClasses, lo, hi)
	if err != nil {
		return fmt.Errorf("earlier subscriptions: %w", err)
	}
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return fmt.Errorf("earlier subscriptions: %w", err)
		}
		ids = append(ids, id)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return fmt.Errorf("earlier subscriptions: %w", err)
	}
	for lo := 0; lo < len(ids); lo += insertBatch {
		batch := ids[lo:min(lo+insertBatch, len(ids))]
		in := placeholders(len(batch))
		for _, q := range []string{"DELETE FROM subscription_params WHERE subscription_id IN " + in,
			"DELETE FROM subscriptions WHERE subscription_id IN " + in} {
			if _, err := tx.ExecContext(ctx, q, batch...); err != nil {
				return fmt.Errorf("delete earlier subscriptions: %w", err)
			}
		}
	}
	return nil
}

// idRange is the lowest and highest id of list (1, 0 when empty: no id).
func idRange(list []*subs.Subscription) (lo, hi int64) {
	lo, hi = 1, 0
	for i, s := range list {
		if i == 0 || s.ID < lo {
			lo = s.ID
		}
		hi = max(hi, s.ID)
	}
	return lo, hi
}

// ensureClasses adds a message_classes row for every topic of list that
// has none and returns the class_id of each topic.
func ensureClasses(ctx context.Context, tx *sql.Tx, list []*subs.Subscription) (map[string]int64, error) {
	ids := map[string]int64{}
	var rows [][]any
	for _, s := range list {
		if _, ok := ids[s.Topic]; !ok {
			ids[s.Topic] = 0
			rows = append(rows, []any{s.Topic, s.Topic})
		}
	}
	if err := insertRows(ctx, tx, "INSERT IGNORE INTO message_classes (class_key, class_name)", rows); err != nil {
		return nil, err
	}
	rs, err := tx.QueryContext(ctx, "SELECT class_id, class_key FROM message_classes WHERE class_key LIKE ?", ownClasses)
	if err != nil {
		return nil, fmt.Errorf("message classes: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id int64
		var key string
		if err := rs.Scan(&id, &key); err != nil {
			return nil, fmt.Errorf("message classes: %w", err)
		}
		ids[key] = id
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("message classes: %w", err)
	}
	for topic, id := range ids {
		if id == 0 {
			return nil, fmt.Errorf("message class %q: no row", topic)
		}
	}
	return ids, nil
}

// insertRows runs head (an INSERT ... (columns)) with rows as its values,
// insertBatch rows a statement.
func insertRows(ctx context.Context, tx *sql.Tx, head string, rows [][]any) error {
	for lo := 0; lo < len(rows); lo += insertBatch {
		batch := rows[lo:min(lo+insertBatch, len(rows))]
		tuple := placeholders(len(batch[0]))
		var args []any
		for _, r := range batch {
			args = append(args, r...)
		}
		q := head + " VALUES " + strings.TrimSuffix(strings.Repeat(tuple+",", len(batch)), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("%s: %w", head, err)
		}
	}
	return nil
}

// placeholders is "(?,?,...)" of n parameters.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
}
