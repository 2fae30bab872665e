package maintenance

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/pkg/webhook"

	"github.com/hookd/hookd/pkg/loop"
)

// RetentionStore clears expired content in batches walked by id
// (implemented by *postgres.DB). Both methods examine at most limit rows
// with an id above after, in id order, and return the last id examined
// ("" when the range is empty), so a walk goes on where the last call ended.
type RetentionStore interface {
	// ExpirePayloads walks the messages with ids below before and clears
	// the payload of each examined message older at now than its own
	// retention period, with its attempts' responses. It returns how many
	// payloads and responses it cleared and the distinct retention periods
	// (days) of the examined messages whose payload is kept for now.
	ExpirePayloads(ctx context.Context, now time.Time, after, before string, limit int) (last string, payloads, responses int64, kept []int, err error)
	// ExpireResponses walks the attempts made before olderThan and clears
	// the response of each examined one; it returns how many it cleared.
	ExpireResponses(ctx context.Context, olderThan time.Time, after string, limit int) (last string, cleared int64, err error)
	// DeleteOldMessages deletes up to limit messages created before
	// olderThan with their deliveries and attempts; it returns how many.
	DeleteOldMessages(ctx context.Context, olderThan time.Time, limit int) (int64, error)
}

// Retention enforces retention periods: a message's payload is cleared once
// the message is older than its own period (payloadRetentionPeriod, 5 to 90
// days), and an attempt's response body once its message's payload is, or
// once the attempt is older than the global Period. Only content is cleared:
// the rows stay, a payload then reads back as {} and a response as
// "EXPUNGED", and the worker does not attempt a delivery whose payload is
// gone.
//
// Ids are time-sorted (webhook.TimeID turns a time into an id bound), so
// every walk is a primary-key range read in batches of BatchSize rows, one
// short statement each; no index is added to the hot tables. Three kinds of
// walk share each run, taking turns batch by batch until all are done or
// the run's Budget is used:
//
//   - The scan walks the messages older than the shortest period (5 days),
//     each once: it clears those already expired (5-day ones, or older ones
//     after a restart) and notes, per period it sees among the messages it
//     keeps, a span of ids to come back to.
//   - One walk per noted period p goes over its span as it turns p days old
//     (ids below TimeID(now - p days)) and clears what expired there.
//   - The attempts walk clears the responses of attempts older than Period.
//
// Each walk remembers where it stopped, in memory, so a run only reads the
// rows that aged into a range since the last run: at a steady load a message
// is read once at 5 days and once per distinct period in use around it, an
// attempt once more at Period. After a restart the position is lost and the
// first runs scan the older rows once more (already cleared rows are skipped,
// not written). Each worker process runs its own loop: their statements skip
// rows another one holds (SKIP LOCKED) and never clear twice, but the reads
// are repeated per process.
type Retention struct {
	Store  RetentionStore
	Logger *slog.Logger
	// Period is the global retention period (HOOKD_RETENTION_PERIOD):
	// attempt responses older than this are cleared whatever their
	// message's period; 0 means 90 days.
	Period time.Duration
	// Interval between runs; 0 means one minute.
	Interval time.Duration
	// Budget bounds one run: once it is used, the run ends after the
	// batch in flight and what is left waits for the next run; 0 means 30
	// seconds. The run's context ends a minute after the budget, in case a
	// statement hangs.
	Budget time.Duration
	// BatchSize is how many rows one statement examines; 0 means 1000.
	BatchSize int
	// Now is the clock that decides what has expired; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	// scanned is the last message id the scan examined.
	scanned string
	// spans holds, per retention period in days, the messages to come back
	// to when they turn that old.
	spans map[int]*retentionSpan
	// attempts is the last attempt id the attempts walk examined.
	attempts string
}

// retentionSpan is a range of message ids, after < id < TimeID(until), where
// messages of one retention period may still hold a payload.
type retentionSpan struct {
	after string
	until time.Time
}

// RetentionResult is what one run cleared.
type RetentionResult struct {
	Payloads, Responses int64
	// Deleted counts messages deleted with their deliveries and attempts.
	Deleted int64
	// Unfinished reports that the run used its budget with work left.
	Unfinished bool
}

// Run loops until ctx is done.
func (r *Retention) Run(ctx context.Context) {
	loop.Every(ctx, r.Interval, time.Minute, func(ctx context.Context) {
		start := time.Now()
		res, err := r.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.Logger.WarnContext(ctx, "retention run failed", slog.String("error", err.Error()),
				slog.Int64("payloads", res.Payloads), slog.Int64("responses", res.Responses))
		case res.Payloads > 0 || res.Responses > 0 || res.Deleted > 0:
			r.Logger.InfoContext(ctx, "retention cleared expired content",
				slog.Int64("payloads", res.Payloads), slog.Int64("responses", res.Responses),
				slog.Int64("messages_deleted", res.Deleted),
				slog.Bool("unfinished", res.Unfinished), slog.Duration("took", time.Since(start)))
		}
	})
}

// RunOnce clears what has expired, batch by batch, until nothing is left or
// the budget is used, and returns what it cleared. A failed statement ends
// the run; its walk goes on from the same place next time. Runs are
// serialised.
func (r *Retention) RunOnce(ctx context.Context) (RetentionResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	budget := r.Budget
	if budget == 0 {
		budget = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, budget+time.Minute)
	defer cancel()
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var res RetentionResult
	walks := r.walks(now(), &res)
	deadline := time.Now().Add(budget)
	// The walks take turns, one batch each, so none waits for another to
	// finish. The budget is checked after each batch that found rows: an
	// empty range costs next to nothing, and every run makes progress.
	for len(walks) > 0 {
		for i := 0; i < len(walks); {
			more, err := walks[i](ctx)
			switch {
			case err != nil:
				return res, err
			case !more:
				walks = append(walks[:i], walks[i+1:]...)
				continue
			}
			if time.Now().After(deadline) {
				res.Unfinished = true
				return res, nil
			}
			i++
		}
	}
	return res, nil
}

// recordGrace is how long a message's record (with its deliveries and
// attempts) outlives the longest retention of its content.
const recordGrace = 30 * 24 * time.Hour

// retentionStep runs one batch of a walk and reports whether more is left.
type retentionStep func(ctx context.Context) (more bool, err error)

// walks returns this run's walks: the due spans, the scan and the attempts.
func (r *Retention) walks(now time.Time, res *RetentionResult) []retentionStep {
	if r.spans == nil {
		r.spans = map[int]*retentionSpan{}
	}
	var walks []retentionStep
	for days, sp := range r.spans {
		cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
		end := cutoff
		if sp.until.Before(end) {
			end = sp.until
		}
		before := webhook.TimeID(webhook.PrefixMessage, end)
		if before <= sp.after {
			continue // not due yet
		}
		walks = append(walks, func(ctx context.Context) (bool, error) {
			last, p, n, _, err := r.Store.ExpirePayloads(ctx, now, sp.after, before, r.batchSize())
			if err != nil {
				return false, err
			}
			res.Payloads, res.Responses = res.Payloads+p, res.Responses+n
			if last != "" {
				sp.after = last
				return true, nil
			}
			if !sp.until.After(cutoff) {
				delete(r.spans, days) // walked to its end
			}
			return false, nil
		})
	}
	scanEnd := now.Add(-webhook.MinRetentionDays * 24 * time.Hour)
	scanBefore := webhook.TimeID(webhook.PrefixMessage, scanEnd)
	walks = append(walks, func(ctx context.Context) (bool, error) {
		after := r.scanned
		last, p, n, kept, err := r.Store.ExpirePayloads(ctx, now, after, scanBefore, r.batchSize())
		if err != nil || last == "" {
			return false, err
		}
		res.Payloads, res.Responses = res.Payloads+p, res.Responses+n
		r.scanned = last
		r.keep(kept, after, last, scanEnd)
		return true, nil
	})
	period := r.Period
	if period == 0 {
		period = webhook.DefaultRetentionDays * 24 * time.Hour
	}
	// Records go too, a month after every content they hold has expired
	// (after the longest period a message may ask for, or Period if
	// longer), so the database's size stays flat under a steady load.
	recordAge := max(period, webhook.MaxRetentionDays*24*time.Hour) + recordGrace
	walks = append(walks, func(ctx context.Context) (bool, error) {
		n, err := r.Store.DeleteOldMessages(ctx, now.Add(-recordAge), r.batchSize())
		res.Deleted += n
		return n > 0, err
	})
	walks = append(walks, func(ctx context.Context) (bool, error) {
		last, n, err := r.Store.ExpireResponses(ctx, now.Add(-period), r.attempts, r.batchSize())
		if err != nil || last == "" {
			return false, err
		}
		res.Responses += n
		r.attempts = last
		return true, nil
	})
	return walks
}

// keep extends the span of each period in kept over a scanned batch
// (after < id <= last, every id below TimeID(scanEnd)).
func (r *Retention) keep(kept []int, after, last string, scanEnd time.Time) {
	until := scanEnd
	if t, ok := webhook.IDTime(webhook.PrefixMessage, last); ok {
		until = t.Add(time.Nanosecond) // the least time whose TimeID sorts after last
	}
	for _, days := range kept {
		if sp := r.spans[days]; sp != nil {
			sp.until = until
		} else {
			r.spans[days] = &retentionSpan{after: after, until: until}
		}
	}
}

func (r *Retention) batchSize() int {
	if r.BatchSize == 0 {
		return 1000
	}
	return r.BatchSize
}
