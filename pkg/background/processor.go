package background

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// Runner does the work of one kind of background task, in batches.
type Runner interface {
	// Step does the next batch of t's work, starting from t.Cursor and
	// t.Data as last saved, and returns the progress to save. A Step may
	// be repeated with the same cursor (its worker died before saving), so
	// it must be safe to redo. An error whose webhook code is not
	// EINTERNAL fails the task with its message; any other error is
	// retried a few times, with a pause, before the task fails.
	Step(ctx context.Context, t *webhook.BackgroundTask) (Progress, error)
}

// Progress is what a Step did.
type Progress struct {
	// Cursor is where the next Step starts.
	Cursor string
	// Data replaces the task's data (a JSON object: counts so far).
	Data json.RawMessage
	// Done ends the task: it is finished.
	Done bool
	// Wait pauses the task: there is nothing to do for that long (a replay
	// waits for the workers to send what it queued). The processor saves
	// the progress and lets the task go, so a paused task holds no
	// processor; any worker resumes it once Wait has passed.
	Wait time.Duration
}

// Store is what the Processor needs of the database.
type Store interface {
	ClaimBackgroundTask(ctx context.Context, owner string, kinds []webhook.TaskKind, lease time.Duration) (*webhook.BackgroundTask, error)
	SaveBackgroundTask(ctx context.Context, t *webhook.BackgroundTask, owner string, lease time.Duration) error
}

// Processor claims runnable tasks and runs them with the Runner of their
// kind until they finish or fail. Run one per worker process; several
// processes share the tasks.
type Processor struct {
	Store Store
	// Runners maps each kind this process can run to its Runner; tasks of
	// other kinds are left to processes that can run them.
	Runners map[webhook.TaskKind]Runner
	Logger  *slog.Logger
	// Interval is how often an idle processor looks for tasks; 0 means 1s.
	Interval time.Duration
	// Lease is how long a claimed task stays this process's without news;
	// each saved batch renews it. A batch must finish well within it: each
	// is given half. 0 means 1 minute.
	Lease time.Duration
	// RetryDelay is the pause after a batch failed on infrastructure, before
	// any worker tries it again; 0 means 5s.
	RetryDelay time.Duration
	// MaxErrors is how many batches in a row may fail on infrastructure
	// before the task fails; 0 means 5.
	MaxErrors int
	// Owner names this process in leases; "" means a random name.
	Owner string
	// Slice is how long the processor runs one task before it hands it
	// back and claims the task that has waited longest (the same one when
	// no other waits), so that a long task does not hold up the others;
	// 0 means 10s.
	Slice time.Duration
}

func (p *Processor) defaults() {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Interval == 0 {
		p.Interval = time.Second
	}
	if p.Lease == 0 {
		p.Lease = time.Minute
	}
	if p.RetryDelay == 0 {
		p.RetryDelay = 5 * time.Second
	}
	if p.MaxErrors == 0 {
		p.MaxErrors = 5
	}
	if p.Slice == 0 {
		p.Slice = 10 * time.Second
	}
	if p.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		p.Owner = "worker-" + hex.EncodeToString(b[:])
	}
}

// Run processes tasks until ctx is done: it works through every runnable
// task, then waits Interval before looking again. A database error is
// logged and waited out the same way.
func (p *Processor) Run(ctx context.Context) {
	p.defaults()
	for {
		ran, err := p.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			p.Logger.WarnContext(ctx, "background tasks: claiming failed", slog.String("error", err.Error()))
		}
		if ran && err == nil {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.Interval):
		}
	}
}

// RunOnce claims one runnable task and runs it until it finishes, fails,
// pauses (after an infrastructure error, or when its Runner asks to wait),
// has run for its Slice, or is lost to another worker. It
// reports whether it claimed a task; the error is the claim's.
func (p *Processor) RunOnce(ctx context.Context) (bool, error) {
	p.defaults()
	kinds := slices.Sorted(maps.Keys(p.Runners))
	t, err := p.Store.ClaimBackgroundTask(ctx, p.Owner, kinds, p.Lease)
	if err != nil || t == nil {
		return false, err
	}
	p.run(ctx, t)
	return true, nil
}

// run steps t until it is done or must stop.
func (p *Processor) run(ctx context.Context, t *webhook.BackgroundTask) {
	log := p.Logger.With(slog.String("task_id", t.ID), slog.String("task", string(t.Kind)))
	runner := p.Runners[t.Kind]
	claimed := time.Now()
	for {
		stepCtx, cancel := context.WithTimeout(ctx, p.Lease/2)
		prog, err := runner.Step(stepCtx, t)
		cancel()
		if ctx.Err() != nil {
			// Shutting down: hand the task back at once rather than at the
			// end of the lease. What this step did is redone by the next.
			p.save(log, t, 0)
			return
		}
		lease := p.Lease
		switch {
		case err != nil && webhook.ErrorCode(err) != webhook.EINTERNAL:
			p.fail(t, webhook.ErrorMessage(err))
		case err != nil:
			t.Errors++
			log.WarnContext(ctx, "background task step failed", slog.Int("errors", t.Errors), slog.String("error", err.Error()))
			if t.Errors >= p.MaxErrors {
				p.fail(t, "gave up after repeated internal errors")
			}
			lease = p.RetryDelay // any worker may try again after the pause
		default:
			t.Errors, t.Cursor, t.Data = 0, prog.Cursor, prog.Data
			if prog.Done {
				t.Status = webhook.TaskFinished
			}
			if prog.Wait > 0 {
				lease = prog.Wait // any worker may go on after the pause
			}
		}
		// Its slice is over: the task goes back, claimable at once, behind
		// the tasks that waited longer (claims take the oldest lease first).
		yield := err == nil && prog.Wait == 0 && time.Since(claimed) >= p.Slice
		if yield {
			lease = 0
		}
		if !p.save(log, t, lease) || t.Status != webhook.TaskRunning || err != nil || prog.Wait > 0 || yield {
			if t.Status != webhook.TaskRunning {
				log.InfoContext(ctx, "background task "+string(t.Status), slog.String("data", string(t.Data)))
			}
			return
		}
	}
}

// fail marks t failed with reason, keeping the counts it has.
func (p *Processor) fail(t *webhook.BackgroundTask, reason string) {
	data := map[string]any{}
	_ = json.Unmarshal(t.Data, &data)
	data["error"] = reason
	t.Data, _ = json.Marshal(data)
	t.Status = webhook.TaskFailed
}

// save stores t's progress, and reports whether this process may go on
// with it. It is given its own short context: progress made while shutting
// down is still worth saving.
func (p *Processor) save(log *slog.Logger, t *webhook.BackgroundTask, lease time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.Store.SaveBackgroundTask(ctx, t, p.Owner, lease)
	switch {
	case err == nil:
		return true
	case webhook.ErrorCode(err) == webhook.ELEASELOST:
		log.WarnContext(ctx, "background task taken over by another worker; stopping here")
	default:
		// The lease runs out and another worker (or this one) resumes
		// from the last cursor saved.
		log.WarnContext(ctx, "saving background task progress failed", slog.String("error", err.Error()))
	}
	return false
}
