package paneldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-sql-driver/mysql"

	"medispatcher/engine/dispatch/subs"
)

// MaxID is the largest subscription_id the column holds (INT UNSIGNED).
const MaxID = math.MaxUint32

// Errors of Writer, matched with errors.Is.
var (
	// ErrExists: a row already has the subscription_id asked for
	// (cancelled rows included: they stay for the panel's history).
	ErrExists = errors.New("subscription_id exists")
	// ErrNotFound: no row has the subscription_id.
	ErrNotFound = errors.New("no such subscription_id")
)

// errDuplicateKey is MySQL's ER_DUP_ENTRY.
const errDuplicateKey = 1062

// Writer stores subscriptions into the 2.x tables as the control panel
// does, so that the panel, the daemons reading the tables and the admin
// API all see one set. Each change is one transaction: a failure leaves
// the tables as they were.
type Writer struct{ db *sql.DB }

// NewWriter returns a writer on db.
func NewWriter(db *sql.DB) *Writer { return &Writer{db: db} }

// Unstorable reports the settings of s these tables cannot hold: Rate
// and Burst have no 2.x parameter, and subscription_id is INT UNSIGNED.
// Storing s anyway would drop them without a word, so a writer refuses
// it; the error is errors.Join of *subs.ValidationError naming each
// field, nil when s fits.
func Unstorable(s *subs.Subscription) error {
	var errs []error
	bad := func(field string, value any, why string) {
		errs = append(errs, &subs.ValidationError{ID: s.ID, Field: field, Value: value, Allowed: why})
	}
	const noParam = "must be 0: the 2.x tables (SubscriptionSource = \"mysql\") have no parameter for it"
	if s.Rate != 0 {
		bad("rate", s.Rate, noParam)
	}
	if s.Burst != 0 {
		bad("burst", s.Burst, noParam)
	}
	if s.ID > MaxID {
		bad("id", s.ID, fmt.Sprintf("must be <= %d (subscription_id is INT UNSIGNED)", uint64(MaxID)))
	}
	return errors.Join(errs...)
}

// Create inserts s: its subscriptions row (active, subscribed now), the
// message_classes row of its topic when there is none, and its
// subscription_params rows (ParamsOf). s.ID 0 takes the next
// auto-increment id; another id must be free (ErrExists otherwise). It
// returns the id stored.
func (w *Writer) Create(ctx context.Context, s *subs.Subscription) (int64, error) {
	if err := Unstorable(s); err != nil {
		return 0, err
	}
	var id int64
	err := w.inTx(ctx, "create subscription", func(tx *sql.Tx) error {
		if s.ID != 0 {
			if found, err := rowExists(ctx, tx, s.ID); err != nil || found {
				return existsOr(err, s.ID)
			}
		}
		class, err := classOf(ctx, tx, s.Topic)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (subscription_id, message_class_id, subscriber_id, reception_channel, status, subscribe_time, timeout)
			VALUES (NULLIF(?, 0), ?, ?, ?, 0, ?, ?)`, s.ID, class, s.SubscriberID, s.URL, time.Now().Unix(), s.TimeoutMS)
		if err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == errDuplicateKey {
				return existsOr(nil, s.ID)
			}
			return fmt.Errorf("insert subscriptions: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("insert subscriptions: %w", err)
		}
		return insertParams(ctx, tx, id, s)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// Update rewrites subscription s.ID: its columns (class, subscriber, URL,
// timeout; status and subscribe_time stay) and its parameter rows, all
// deleted and replaced by ParamsOf(s) (a parameter left at its default
// has no row). ErrNotFound when the row is not there.
func (w *Writer) Update(ctx context.Context, s *subs.Subscription) error {
	if err := Unstorable(s); err != nil {
		return err
	}
	return w.inTx(ctx, fmt.Sprintf("update subscription %d", s.ID), func(tx *sql.Tx) error {
		if found, err := rowExists(ctx, tx, s.ID); err != nil || !found {
			return notFoundOr(err, s.ID)
		}
		class, err := classOf(ctx, tx, s.Topic)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET message_class_id = ?, subscriber_id = ?, reception_channel = ?, timeout = ?
			WHERE subscription_id = ?`, class, s.SubscriberID, s.URL, s.TimeoutMS, s.ID); err != nil {
			return fmt.Errorf("update subscriptions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscription_params WHERE subscription_id = ?`, s.ID); err != nil {
			return fmt.Errorf("delete subscription_params: %w", err)
		}
		return insertParams(ctx, tx, s.ID, s)
	})
}

// Cancel cancels subscription id as 2.x's panel does: status = 1. The
// row and its parameters stay, for the panel's history. ErrNotFound when
// the row is not there.
func (w *Writer) Cancel(ctx context.Context, id int64) error {
	return w.inTx(ctx, fmt.Sprintf("cancel subscription %d", id), func(tx *sql.Tx) error {
		if found, err := rowExists(ctx, tx, id); err != nil || !found {
			return notFoundOr(err, id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET status = 1 WHERE subscription_id = ?`, id); err != nil {
			return fmt.Errorf("update subscriptions: %w", err)
		}
		return nil
	})
}

// inTx runs do in a transaction, committed when do succeeds and rolled
// back otherwise; errors are prefixed with what.
func (w *Writer) inTx(ctx context.Context, what string, do func(tx *sql.Tx) error) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	if err := do(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// rowExists reports whether subscription id has a row, locking it until
// the transaction ends so that two writers of one id take turns.
func rowExists(ctx context.Context, tx *sql.Tx, id int64) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM subscriptions WHERE subscription_id = ? FOR UPDATE`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read subscriptions: %w", err)
	}
	return true, nil
}

func existsOr(err error, id int64) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("subscription_id %d: %w", id, ErrExists)
}

func notFoundOr(err error, id int64) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("subscription_id %d: %w", id, ErrNotFound)
}

// classOf returns the class_id of topic, inserting its message_classes
// row (class_name = the topic) when it has none.
func classOf(ctx context.Context, tx *sql.Tx, topic string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT class_id FROM message_classes WHERE class_key = ? ORDER BY class_id LIMIT 1`, topic).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read message_classes: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO message_classes (class_key, class_name) VALUES (?, ?)`, topic, topic)
	if err != nil {
		return 0, fmt.Errorf("insert message_classes %q: %w", topic, err)
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, fmt.Errorf("insert message_classes %q: %w", topic, err)
	}
	return id, nil
}

// insertParams inserts the subscription_params rows of s under id.
func insertParams(ctx context.Context, tx *sql.Tx, id int64, s *subs.Subscription) error {
	for _, p := range ParamsOf(s) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscription_params (subscription_id, param_name, param_value) VALUES (?, ?, ?)`,
			id, p.Name, p.Value); err != nil {
			return fmt.Errorf("insert subscription_params %s: %w", p.Name, err)
		}
	}
	return nil
}
