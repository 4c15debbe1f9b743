package paneldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// classTTL is how long the writer trusts a topic's class_id before it
// reads message_classes again: a class the panel adds or renumbers shows
// in the failure rows written that long after at most.
const classTTL = 10 * time.Second

// classes is the writer's cache of message_classes: the class_id of
// each topic a batch's first-failure rows named, 0 for a topic without a
// class. Only the writer goroutine uses it. A statement of many rows
// takes the ids from it as values: a subquery per row cost the database
// a sixth of its work on the rows (its parsing and optimising).
type classes struct {
	ids  map[string]uint64
	read time.Time // when ids were first filled; all expire together
}

// resolve makes sure every topic of rows has a cached class_id, reading
// the missing ones in one query.
func (c *classes) resolve(ctx context.Context, tx *sql.Tx, rows []*FailureRow, now time.Time) error {
	if c.ids == nil || now.Sub(c.read) > classTTL {
		c.ids, c.read = make(map[string]uint64), now
	}
	var missing []any
	for _, row := range rows {
		if _, ok := c.ids[row.Topic]; !ok {
			c.ids[row.Topic] = 0 // until the query finds it; named once
			missing = append(missing, row.Topic)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	// One SELECT per topic, joined by UNION ALL, gives each topic back
	// as it was sent, whatever the collation of class_key matched it to.
	// MIN: a 2.x database may lack the UNIQUE key on class_key.
	var q strings.Builder
	args := make([]any, 0, 2*len(missing))
	for i, t := range missing {
		if i > 0 {
			q.WriteString(` UNION ALL `)
		}
		q.WriteString(`SELECT ?, COALESCE((SELECT MIN(class_id) FROM message_classes WHERE class_key = ?), 0)`)
		args = append(args, t, t)
	}
	if err := c.load(ctx, tx, q.String(), args); err != nil {
		// Not cached: the next batch asks again.
		for _, t := range missing {
			delete(c.ids, t.(string))
		}
		return fmt.Errorf("read the class_id of %d topics: %w", len(missing), err)
	}
	return nil
}

// load runs q, whose rows are (topic, class_id), into the cache.
func (c *classes) load(ctx context.Context, tx *sql.Tx, q string, args []any) error {
	res, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		var key string
		var id uint64
		if err := res.Scan(&key, &id); err != nil {
			return err
		}
		c.ids[key] = id
	}
	return res.Err()
}
