package admin

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/paneldb"
)

// PanelWriter writes subscriptions into the 2.x tables the control panel
// edits (SubscriptionSource = "mysql"): paneldb.Writer.
type PanelWriter interface {
	// Create inserts s (id 0: the next free one) and returns its id.
	Create(ctx context.Context, s *subs.Subscription) (int64, error)
	// Update rewrites subscription s.ID.
	Update(ctx context.Context, s *subs.Subscription) error
	// Cancel cancels subscription id (status = 1; the row stays).
	Cancel(ctx context.Context, id int64) error
}

// requirePanel returns the writer or a 503.
func (a *API) requirePanel() (PanelWriter, error) {
	if a.d.Panel == nil {
		return nil, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "database %s cannot be written: no database pool", paneldb.Where(a.d.Config.Database))
	}
	return a.d.Panel, nil
}

// panelError turns an error of the writer into the API's: an id taken is
// 409, a row gone 404, a setting the tables cannot hold 422, anything
// else the database's trouble (503).
func (a *API) panelError(id int64, err error) error {
	switch {
	case errors.Is(err, paneldb.ErrExists):
		return errf(fasthttp.StatusConflict, CodeConflict, "subscription %d exists (cancelled ones keep their id); PUT or PATCH /api/v1/subscriptions/%d changes an active one", id, id)
	case errors.Is(err, paneldb.ErrNotFound):
		return errf(fasthttp.StatusNotFound, CodeNotFound, "no subscription %d in the database", id)
	case errors.Is(err, subs.ErrInvalid):
		return a.invalid(id, "cannot be stored in the 2.x tables", err)
	}
	return errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "database %s: %v", paneldb.Where(a.d.Config.Database), err)
}

// storable refuses, before anything is written, what the 2.x tables
// cannot hold (rate, burst): never silently dropped.
func (a *API) storable(s *subs.Subscription) error {
	if !a.d.Config.SubscriptionFromMySQL {
		return nil
	}
	if err := paneldb.Unstorable(s); err != nil {
		return a.panelError(s.ID, err)
	}
	return nil
}

// createPanel inserts s into the 2.x tables (s.ID 0: the row's
// auto-increment id, set on s) and waits until this daemon runs it.
func (a *API) createPanel(s *subs.Subscription) (*adminapi.Changed, error) {
	p, err := a.requirePanel()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	id, err := p.Create(ctx, s)
	if err != nil {
		return nil, a.panelError(s.ID, err)
	}
	s.ID = id
	return a.applied(s), nil
}

// updatePanel rewrites s in the 2.x tables.
func (a *API) updatePanel(ctx context.Context, s *subs.Subscription) error {
	p, err := a.requirePanel()
	if err != nil {
		return err
	}
	if err := p.Update(ctx, s); err != nil {
		return a.panelError(s.ID, err)
	}
	return nil
}

// cancelPanel cancels subscription id in the 2.x tables.
func (a *API) cancelPanel(ctx context.Context, id int64) error {
	p, err := a.requirePanel()
	if err != nil {
		return err
	}
	if err := p.Cancel(ctx, id); err != nil {
		return a.panelError(id, err)
	}
	return nil
}

// applyWait bounds how long a change waits to be applied by this daemon.
// The database is not watched but polled: a change there may wait a whole
// poll interval (Database.PollInterval, ms) before the daemon reads it.
func (a *API) applyWait() time.Duration {
	if a.d.Config.SubscriptionFromMySQL {
		return baseApplyWait + time.Duration(a.d.Config.Database.PollInterval)*time.Millisecond
	}
	return baseApplyWait
}
