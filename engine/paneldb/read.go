package paneldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"medispatcher/engine/dispatch/subs"
)

// activeQuery is 2.x's own query for the active subscriptions (status 0;
// 1 is cancelled), kept word for word so that both daemons read the same
// set from the same tables.
const activeQuery = `SELECT t2.class_key, t1.message_class_id, t1.subscription_id, t1.subscriber_id, t1.reception_channel, t1.status, t1.subscribe_time, t1.timeout FROM subscriptions t1 INNER JOIN message_classes t2 ON (t1.message_class_id = t2.class_id) WHERE t1.status = 0`

// paramsQuery reads the parameter rows of the active subscriptions in the
// order they were written, so that of two rows of one name the later wins.
const paramsQuery = `SELECT p.subscription_id, p.param_name, p.param_value FROM subscription_params p INNER JOIN subscriptions t1 ON (p.subscription_id = t1.subscription_id) WHERE t1.status = 0 ORDER BY p.id`

// probeQuery is the change probe: per table, its row count and the XOR of
// a CRC32 of each row's relevant columns, primary key included. An INSERT
// or a DELETE changes the count; an UPDATE of any column read (a param
// value, a status, a URL, a class_key) changes that row's CRC and so the
// XOR, unless the new CRC collides with the old one (a chance of 2^-32
// per change). The key in each row's CRC makes a swap of values between
// two rows a change too. The server scans the three tables and returns
// three rows: no subscription crosses the network unless one changed.
const probeQuery = `SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS(CHAR(31), subscription_id, message_class_id, subscriber_id, reception_channel, status, timeout))) FROM subscriptions
UNION ALL SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS(CHAR(31), id, subscription_id, param_name, param_value))) FROM subscription_params
UNION ALL SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS(CHAR(31), class_id, class_key))) FROM message_classes`

// probeSum is what probeQuery returned: equal sums mean unchanged tables.
type probeSum [3][2]uint64

// probe runs probeQuery.
func (s *Source) probe(ctx context.Context) (probeSum, error) {
	var sum probeSum
	s.count(&s.probes, queriesProbe)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, probeQuery)
	if err != nil {
		return sum, fmt.Errorf("probe subscriptions' tables: %w", err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next() && i < len(sum); i++ {
		if err := rows.Scan(&sum[i][0], &sum[i][1]); err != nil {
			return sum, fmt.Errorf("probe subscriptions' tables: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("probe subscriptions' tables: %w", err)
	}
	if i != len(sum) {
		return sum, fmt.Errorf("probe subscriptions' tables: %d rows, want %d", i, len(sum))
	}
	return sum, nil
}

// row is one row of activeQuery.
type row struct {
	topic         string
	classID       int64
	id            int64
	subscriber    int64
	channel       string
	status        int
	subscribeTime int64
	timeout       int
}

// snapshot is one consistent full read: the active subscriptions and
// their parameter rows by subscription id.
type snapshot struct {
	rows   []row
	params map[int64][]Param
}

// read runs both queries in one read-only transaction, so that they see
// the tables at one instant (InnoDB's consistent snapshot). An error is
// never an empty snapshot.
func (s *Source) read(ctx context.Context) (*snapshot, error) {
	s.count(&s.reads, queriesRead)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	snap := &snapshot{params: make(map[int64][]Param)}
	if snap.rows, err = readRows(ctx, tx); err != nil {
		return nil, err
	}
	if err := readParams(ctx, tx, snap.params); err != nil {
		return nil, err
	}
	return snap, nil
}

func readRows(ctx context.Context, tx *sql.Tx) ([]row, error) {
	rs, err := tx.QueryContext(ctx, activeQuery)
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.topic, &r.classID, &r.id, &r.subscriber, &r.channel, &r.status, &r.subscribeTime, &r.timeout); err != nil {
			return nil, fmt.Errorf("read subscriptions: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	return out, nil
}

func readParams(ctx context.Context, tx *sql.Tx, into map[int64][]Param) error {
	rs, err := tx.QueryContext(ctx, paramsQuery)
	if err != nil {
		return fmt.Errorf("read subscription_params: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			id int64
			p  Param
		)
		if err := rs.Scan(&id, &p.Name, &p.Value); err != nil {
			return fmt.Errorf("read subscription_params: %w", err)
		}
		into[id] = append(into[id], p)
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read subscription_params: %w", err)
	}
	return nil
}

// build makes the subscription of r and its parameter rows, validated
// against lim; unknown lists the parameter names it does not know. The
// error names the subscription and every column or parameter at fault.
func build(r row, rows []Param, lim subs.Limits) (s *subs.Subscription, unknown []string, err error) {
	s = &subs.Subscription{
		ID: r.id, Topic: r.topic, SubscriberID: r.subscriber, URL: r.channel, TimeoutMS: r.timeout,
		AlertEnabled: true, // the daemon's default when AlerterEnabled has no row
	}
	unknown, err = applyParams(s, rows)
	if err != nil {
		return nil, unknown, err
	}
	if err := s.Validate(lim); err != nil {
		given := make(map[string]bool, len(rows))
		for _, p := range rows {
			given[p.Name] = true
		}
		return nil, unknown, renameFields(err, given)
	}
	return s, unknown, nil
}

// version identifies what r and its rows hold, so that an invalid
// subscription is reported once per version.
func version(r row, rows []Param) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v", r)
	for _, p := range rows {
		fmt.Fprintf(&b, " %s=%q", p.Name, p.Value)
	}
	return b.String()
}
