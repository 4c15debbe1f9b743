package stages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// scrapeTimeout bounds the reading of one daemon's /metrics: a daemon that
// does not answer must not hold up the report for long.
const scrapeTimeout = 5 * time.Second

var client = &http.Client{Timeout: scrapeTimeout}

// Scrape reads the stage buckets of every daemon's /metrics URL and sums
// them. It fails, naming the URL, when a daemon does not answer or its
// answer holds no Metric: a partial sum would spoil the difference between
// two snapshots.
func Scrape(ctx context.Context, urls []string) (Buckets, error) {
	sum := Buckets{}
	for _, u := range urls {
		one, err := scrapeOne(ctx, u)
		if err != nil {
			return nil, err
		}
		for stage, bs := range one {
			for le, n := range bs {
				sum.add(stage, le, n)
			}
		}
	}
	return sum, nil
}

// scrapeOne reads the stage buckets of the daemon whose /metrics URL is addr.
func scrapeOne(ctx context.Context, addr string) (Buckets, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The client's error repeats the URL: say it once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s did not answer: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", addr, resp.Status)
	}
	b := Buckets{}
	if err := Parse(resp.Body, b); err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s holds no %s histogram", addr, Metric)
	}
	return b, nil
}

// ErrNoneObserved: the daemons answered, but no message passed their stages
// between the two snapshots (are they the daemons the run drove?).
var ErrNoneObserved = errors.New("no message passed the daemons' stages during the run")

// Span is the daemons' stage timings across a stretch of time: from the
// snapshot Begin takes to the one End takes.
type Span struct {
	urls   []string
	before Buckets
	err    error
}

// Begin takes the first snapshot of the daemons at urls; nil without any
// URL (End of a nil Span has nothing to say).
func Begin(ctx context.Context, urls []string) *Span {
	if len(urls) == 0 {
		return nil
	}
	s := &Span{urls: urls}
	s.before, s.err = Scrape(ctx, urls)
	return s
}

// End takes the second snapshot and returns each stage's observations in
// between. An error says why there are none: a snapshot that failed, or
// no message observed (ErrNoneObserved); a failed first snapshot is not
// retried.
func (s *Span) End(ctx context.Context) ([]Latency, error) {
	if s == nil {
		return nil, nil
	}
	if s.err != nil {
		return nil, fmt.Errorf("before the run: %w", s.err)
	}
	after, err := Scrape(ctx, s.urls)
	if err != nil {
		return nil, fmt.Errorf("after the run: %w", err)
	}
	ls := Delta(s.before, after)
	if !Observed(ls) {
		return nil, ErrNoneObserved
	}
	return ls, nil
}
