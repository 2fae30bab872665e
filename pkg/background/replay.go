package background

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// ReplayParams are the parameters of a replay task: the endpoint, the
// creation times [Since, Until) of the messages, and for a bulk replay
// (endpoint.bulk-replay) the filter of BulkReplayIn. A replay-missing
// (endpoint.replay) has no filter: the endpoint's own decides.
type ReplayParams struct {
	EndpointID      string    `json:"endpointId"`
	Since           time.Time `json:"since"`
	Until           time.Time `json:"until"`
	EventTypes      []string  `json:"eventTypes,omitempty"`
	Channel         string    `json:"channel,omitempty"`
	Tag             string    `json:"tag,omitempty"`
	Status          *int      `json:"status,omitempty"`
	StatusCodeClass *int      `json:"statusCodeClass,omitempty"`
}

// Filter returns the bulk replay filter of p.
func (p ReplayParams) Filter() webhook.ReplayFilter {
	f := webhook.ReplayFilter{EventTypes: p.EventTypes, Channel: p.Channel, Tag: p.Tag, StatusCodeClass: p.StatusCodeClass}
	if p.Status != nil {
		s := webhook.MessageStatus(*p.Status)
		f.Status = &s
	}
	return f
}

// ReplayData is what a replay task reports in its data, as Svix's does.
type ReplayData struct {
	// MessagesSent counts the deliveries the task queued to be sent.
	MessagesSent int64 `json:"messagesSent"`
}

// replayCursor is where a replay is: the last message id looked at, the
// message id at or above which the deliveries it queued and the workers
// have not attempted yet are, and when the next delivery to a
// rate-limited endpoint is due.
type replayCursor struct {
	After string    `json:"after"`
	Low   string    `json:"low,omitempty"`
	Next  time.Time `json:"next,omitzero"`
}

// ReplayStore is what the replays need of the database (postgres.DB).
type ReplayStore interface {
	FindEndpointByID(ctx context.Context, id string) (*webhook.Endpoint, error)
	// ReplayDeliveries runs one batch of a bulk replay: it restarts the
	// matching deliveries in a new round, due from b.Start, spaced by
	// b.Spacing, and not held.
	ReplayDeliveries(ctx context.Context, b webhook.ReplayBatch) (webhook.ReplayStep, error)
	// MissingMessages returns the messages of one batch of a
	// replay-missing that ep never received and that match its event
	// types and channels, with their payloads.
	MissingMessages(ctx context.Context, ep *webhook.Endpoint, b webhook.ReplayBatch) ([]webhook.Message, webhook.ReplayStep, error)
	// CreateReplayDeliveries creates the deliveries of those messages to
	// ep, due from start, spaced by spacing, unordered.
	CreateReplayDeliveries(ctx context.Context, ep *webhook.Endpoint, msgIDs []string, start time.Time, spacing time.Duration) ([]webhook.Delivery, error)
	// OutstandingReplays counts the deliveries to the endpoint of messages
	// in [low, high] that are due and not attempted yet in their round,
	// and returns the lowest of their message ids.
	OutstandingReplays(ctx context.Context, appID, endpointID, low, high string) (int, string, error)
}

// Defaults of a Replay.
const (
	replayBatch   = 500
	replayWindow  = 2000
	replayMaxWait = 2 * time.Second
	replayPause   = time.Second
	// replayAhead is how far ahead a replay to a rate-limited endpoint
	// makes deliveries due.
	replayAhead = 10 * time.Second
)

// Replay runs endpoint.bulk-replay tasks, or with Missing set
// endpoint.replay (replay-missing) tasks, batch by batch in message order
// (the cursor is the last message id looked at):
//
//   - a bulk replay restarts the retry schedule of the endpoint's
//     deliveries in the range that match the filter, in a new round, as
//     recover does for failed ones, whatever their status;
//   - a replay-missing creates a delivery of each message in the range
//     that the endpoint never received and that matches it (Match), as if
//     it had been published to it.
//
// Either way the deliveries are due, not held behind an ordering key, and
// their first attempts are queued with their messages. A big replay does
// not crowd out other traffic (docs/delivery.md): it keeps at most Window
// of its deliveries due and not attempted yet, pausing (and freeing its
// processor) until the workers catch up, so new messages never wait behind
// more than that; towards an endpoint with a rate limit, due times are
// spaced at that rate and made at most ten seconds ahead, so the attempts
// do not wait in the queue throttled.
type Replay struct {
	Store ReplayStore    // required
	Queue delivery.Queue // required
	// Missing selects replay-missing (endpoint.replay); else bulk replay.
	Missing bool
	// Match reports whether a message ep never received is to be sent to
	// it (replay-missing); nil means as publishing decides: ep.Matches,
	// whether or not ep is enabled, and ep's payload filter evaluated by
	// Filters. The store has already applied the event types and channels.
	Match func(ep *webhook.Endpoint, m *webhook.Message) bool
	// Filters evaluates payload filters (the Publisher's); nil: a message
	// is never sent to an endpoint with a payload filter.
	Filters delivery.Filters
	// BatchSize bounds the rows one Step looks at; 0 means 500.
	BatchSize int
	// Window bounds a replay's deliveries due and not attempted yet; 0
	// means 2000.
	Window int
	// MaxWait is how long a Step waits for room in the window before it
	// pauses the task for Pause; 0 means 2s and 1s.
	MaxWait, Pause time.Duration
	// Logger receives a warning when queueing fails; nil: nothing.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Step implements Runner. A Step repeated after a crash restarts its
// deliveries once more (bulk replay: a new round, so the attempts queued
// before do nothing) or finds them created (replay-missing); either way
// each is queued again, and a receiver may see a message twice, as after
// any crash.
func (r *Replay) Step(ctx context.Context, t *webhook.BackgroundTask) (Progress, error) {
	var p ReplayParams
	if err := json.Unmarshal(t.Params, &p); err != nil || p.EndpointID == "" {
		return Progress{}, webhook.Errorf(webhook.EINVALID, "the task's parameters are not those of %s", t.Kind)
	}
	var data ReplayData
	_ = json.Unmarshal(t.Data, &data) // {} at the start
	var cur replayCursor
	if t.Cursor != "" {
		if err := json.Unmarshal([]byte(t.Cursor), &cur); err != nil {
			return Progress{}, webhook.Errorf(webhook.EINVALID, "the task's cursor is not a replay's")
		}
	}
	ep, err := r.Store.FindEndpointByID(ctx, p.EndpointID)
	if webhook.ErrorCode(err) == webhook.ENOTFOUND {
		return Progress{}, webhook.Errorf(webhook.ENOTFOUND, "the endpoint was deleted")
	}
	if err != nil {
		return Progress{}, fmt.Errorf("loading endpoint %s: %w", p.EndpointID, err)
	}
	now := r.now()
	spacing := spacingOf(ep)
	if ahead := cur.Next.Sub(now); spacing > 0 && ahead > replayAhead/2 {
		return r.progress(cur, data, false, ahead-replayAhead/2)
	}
	room, err := r.room(ctx, ep, &cur)
	if err != nil || room == 0 {
		if room == 0 && err == nil {
			return r.progress(cur, data, false, r.pause())
		}
		return Progress{}, err
	}
	start := now
	if cur.Next.After(start) {
		start = cur.Next
	}
	b := webhook.ReplayBatch{
		AppID: ep.AppID, EndpointID: ep.ID, Since: p.Since, Until: p.Until, After: cur.After,
		Scan: min(room, r.batchSize()), Start: start, Spacing: spacing, Filter: p.Filter(),
	}
	step, jobs, err := r.batch(ctx, ep, b)
	if err != nil {
		return Progress{}, err
	}
	if len(jobs) > 0 {
		if err := r.Queue.Enqueue(ctx, jobs...); err != nil && r.Logger != nil {
			// Due in Postgres: the reconciler queues what the queue did not take.
			r.Logger.WarnContext(ctx, "queueing replayed deliveries failed; the reconciler will",
				slog.String("task_id", t.ID), slog.Int("deliveries", len(jobs)), slog.String("error", err.Error()))
		}
	}
	data.MessagesSent += int64(len(step.Queued))
	cur.After = step.ScannedTo
	if spacing > 0 && len(step.Queued) > 0 {
		cur.Next = start.Add(time.Duration(len(step.Queued)) * spacing)
	}
	return r.progress(cur, data, step.Done, 0)
}

// batch runs one batch and returns it with the jobs of its deliveries.
func (r *Replay) batch(ctx context.Context, ep *webhook.Endpoint, b webhook.ReplayBatch) (webhook.ReplayStep, []delivery.Job, error) {
	if !r.Missing {
		step, err := r.Store.ReplayDeliveries(ctx, b)
		if err != nil {
			return step, nil, err
		}
		var jobs []delivery.Job
		for i, d := range step.Queued {
			// With its message: the first attempt need not read it back.
			var msg *webhook.Message
			if i < len(step.Messages) && step.Messages[i].ID == d.MessageID && step.Messages[i].Payload != nil {
				msg = &step.Messages[i]
			}
			jobs = append(jobs, delivery.JobsFor(msg, []webhook.Delivery{d})...)
		}
		return step, jobs, nil
	}
	msgs, step, err := r.Store.MissingMessages(ctx, ep, b)
	if err != nil {
		return step, nil, err
	}
	byID := make(map[string]*webhook.Message, len(msgs))
	var ids []string
	for i := range msgs {
		if r.match(ep, &msgs[i]) {
			ids = append(ids, msgs[i].ID)
			byID[msgs[i].ID] = &msgs[i]
		}
	}
	step.Queued, err = r.Store.CreateReplayDeliveries(ctx, ep, ids, b.Start, b.Spacing)
	if err != nil {
		return step, nil, err
	}
	var jobs []delivery.Job
	for _, d := range step.Queued {
		// With their messages: the first attempts need not read them back.
		jobs = append(jobs, delivery.JobsFor(byID[d.MessageID], []webhook.Delivery{d})...)
	}
	return step, jobs, nil
}

// room returns how many more deliveries the replay may make due now (0:
// none), waiting up to MaxWait for the workers to make room for half a
// batch at least (so that batches stay large), and moves the cursor's Low
// up to the lowest delivery still waiting.
func (r *Replay) room(ctx context.Context, ep *webhook.Endpoint, cur *replayCursor) (int, error) {
	window := r.window(ep)
	if cur.After == "" {
		return window, nil
	}
	need := max(1, min(r.batchSize(), window)/2)
	maxWait := r.MaxWait
	if maxWait == 0 {
		maxWait = replayMaxWait
	}
	deadline := time.Now().Add(maxWait)
	for {
		n, lowest, err := r.Store.OutstandingReplays(ctx, ep.AppID, ep.ID, cur.Low, cur.After)
		if err != nil {
			return 0, err
		}
		cur.Low = lowest
		if lowest == "" {
			cur.Low = cur.After
		}
		if window-n >= need {
			return window - n, nil
		}
		if time.Now().After(deadline) {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// window is how many deliveries the replay keeps due and not attempted:
// Window, or ten seconds' worth at the endpoint's rate limit.
func (r *Replay) window(ep *webhook.Endpoint) int {
	w := r.Window
	if w == 0 {
		w = replayWindow
	}
	if rate := ep.ThrottleRate; rate != nil && *rate > 0 {
		w = min(w, max(1, *rate*int(replayAhead/time.Second)))
	}
	return w
}

// spacingOf is the time between two deliveries at ep's rate limit; 0
// without one.
func spacingOf(ep *webhook.Endpoint) time.Duration {
	if rate := ep.ThrottleRate; rate != nil && *rate > 0 {
		return time.Second / time.Duration(*rate)
	}
	return 0
}

// match reports whether replay-missing sends m to ep. A payload filter
// that cannot be evaluated counts as no match: publishing would have
// cancelled that delivery, and nothing is sent either way.
func (r *Replay) match(ep *webhook.Endpoint, m *webhook.Message) bool {
	if r.Match != nil {
		return r.Match(ep, m)
	}
	enabled := *ep
	enabled.Disabled = false
	if !enabled.Matches(m) {
		return false
	}
	if ep.Filter == "" {
		return true
	}
	if r.Filters == nil {
		return false
	}
	matcher, err := r.Filters.Matcher(m)
	if err != nil || matcher == nil {
		return false
	}
	ok, err := matcher(ep.Filter)
	return err == nil && ok
}

func (r *Replay) progress(cur replayCursor, data ReplayData, done bool, wait time.Duration) (Progress, error) {
	rawCur, err := json.Marshal(cur)
	if err != nil {
		return Progress{}, err
	}
	rawData, err := json.Marshal(data)
	if err != nil {
		return Progress{}, err
	}
	return Progress{Cursor: string(rawCur), Data: rawData, Done: done, Wait: wait}, nil
}

func (r *Replay) batchSize() int {
	if r.BatchSize == 0 {
		return replayBatch
	}
	return r.BatchSize
}

func (r *Replay) pause() time.Duration {
	if r.Pause == 0 {
		return replayPause
	}
	return r.Pause
}

func (r *Replay) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
