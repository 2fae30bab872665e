package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// Deliverer is the asynq handler of TypeDeliveryAttempt: it signs and POSTs
// one attempt, records it, and schedules the next one on failure.
//
// It is idempotent: an attempt whose task already ran is recorded once, and
// a scheduled attempt of a delivery that moved on (finished, recovered, or
// already past that attempt) does nothing. Errors of our own infrastructure
// are returned to asynq, which retries the task without using up the
// customer's schedule.
type Deliverer struct {
	Store    webhook.DeliveryStore
	Client   *egress.Client
	Enqueuer *Enqueuer
	Schedule retry.Schedule
	Headers  signature.HeaderNames
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// EndpointTTL is how long first attempts reuse an endpoint they read;
	// 0 means one second.
	EndpointTTL time.Duration
	// Observer is told every attempt's outcome (metrics); nil: nobody.
	Observer Observer
	// Events receives operational events (message.attempt.failing,
	// .exhausted, .recovered, endpoint.disabled); nil: none are sent.
	Events webhook.OperationalEmitter
	// Throttle enforces endpoints' rate limits and in-flight caps; nil:
	// none.
	Throttle *Throttle

	cacheOnce sync.Once
	// endpoints keeps the endpoints first attempts read, for EndpointTTL: a
	// burst to one endpoint reads it once; a change to it reaches first
	// attempts within the TTL, and retries always read it afresh.
	endpoints *ttlcache.Cache[string, webhook.Endpoint]
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// ProcessTask implements asynq.Handler.
func (d *Deliverer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p DeliveryAttemptPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeliveryID == "" {
		return fmt.Errorf("undecodable %s payload %q: %w", TypeDeliveryAttempt, t.Payload(), asynq.SkipRetry)
	}
	job, err := d.load(ctx, p)
	if webhook.ErrorCode(err) == webhook.ENOTFOUND {
		return nil // the endpoint, message or app was deleted: nothing to deliver
	}
	if err != nil {
		return fmt.Errorf("loading delivery %s: %w", p.DeliveryID, err)
	}
	dl := job.Delivery
	if p.Manual == "" && (dl.NextAttemptAt == nil || dl.Round != p.Round || dl.RoundAttempts != p.Number-1) {
		return nil // finished, recovered or already past this attempt
	}
	release, err := d.acquire(ctx, job, p)
	if err != nil {
		return err
	}
	rec := d.attempt(ctx, job, p)
	release()
	recorded, err := d.Store.RecordAttempt(ctx, rec)
	if err != nil {
		return fmt.Errorf("recording attempt of delivery %s: %w", p.DeliveryID, err)
	}
	d.Logger.LogAttrs(ctx, slog.LevelDebug, "attempt",
		slog.String("msg_id", dl.MessageID), slog.String("endpoint_id", dl.EndpointID),
		slog.String("delivery_id", dl.ID), slog.Int("status_code", rec.Attempt.StatusCode),
		slog.String("outcome", rec.Attempt.Status.String()), slog.Bool("recorded", recorded))
	if recorded {
		observerOr(d.Observer).AttemptDone(outcome(rec), rec.Attempt.StatusCode, time.Duration(rec.Attempt.DurationMs)*time.Millisecond)
		d.afterRecorded(ctx, job, p, rec)
	}
	if !recorded || rec.NextAttemptAt == nil || rec.KeepState {
		return nil
	}
	next := DeliveryAttemptPayload{DeliveryID: dl.ID, Round: dl.Round, Number: dl.RoundAttempts + 2}
	if err := d.Enqueuer.Enqueue(ctx, next, *rec.NextAttemptAt); err != nil {
		// Recorded in Postgres: the reconciler enqueues it once overdue.
		d.Logger.WarnContext(ctx, "enqueueing next attempt failed; the reconciler will retry",
			slog.String("msg_id", dl.MessageID), slog.String("endpoint_id", dl.EndpointID),
			slog.String("delivery_id", dl.ID), slog.String("error", err.Error()))
	}
	return nil
}

// acquire waits for nothing: it lets the attempt through the endpoint's
// throttle or returns a *ThrottledError that puts the task back (not an
// attempt). Attempts that make no request are never throttled.
func (d *Deliverer) acquire(ctx context.Context, job *webhook.DeliveryJob, p DeliveryAttemptPayload) (func(), error) {
	ep := &job.Endpoint
	if (ep.Disabled && p.Manual == "") || job.Message.Payload == nil {
		return func() {}, nil
	}
	release, err := d.Throttle.Acquire(ctx, ep.ID, ep.ThrottleRate)
	if _, ok := isThrottled(err); ok {
		observerOr(d.Observer).Throttled()
	}
	return release, err
}

// afterRecorded tells operators what the attempt changed: an endpoint that
// answered 410 Gone is disabled at once, and the operational events of the
// delivery (failing after the 4th failed attempt, exhausted, recovered) are
// emitted.
func (d *Deliverer) afterRecorded(ctx context.Context, job *webhook.DeliveryJob, p DeliveryAttemptPayload, rec *webhook.AttemptRecord) {
	a := &rec.Attempt
	if a.StatusCode == http.StatusGone {
		d.disableGone(ctx, job.Endpoint.ID)
	}
	var event string
	switch {
	case a.Status == webhook.StatusSuccess && (p.Number > 1 || job.Delivery.Status == webhook.StatusFail):
		event = webhook.EventMessageAttemptRecovered
	case outcome(rec) == OutcomeExhausted:
		event = webhook.EventMessageAttemptExhausted
		d.Logger.LogAttrs(ctx, slog.LevelWarn, "delivery failed for good (dead letter)",
			slog.String("msg_id", job.Message.ID), slog.String("endpoint_id", job.Endpoint.ID),
			slog.String("delivery_id", job.Delivery.ID), slog.Int("status_code", a.StatusCode))
	case outcome(rec) == OutcomeRetry && p.Number == webhook.FailingAfterAttempts:
		event = webhook.EventMessageAttemptFailing
	default:
		return
	}
	d.emit(ctx, job.Delivery.OrgID, event, webhook.AttemptEventData{
		AppID: job.Delivery.AppID, MsgID: job.Message.ID, MsgEventID: job.Message.EventID,
		EndpointID: job.Endpoint.ID,
		LastAttempt: webhook.LastAttempt{
			ID: a.ID, Timestamp: a.CreatedAt, ResponseStatusCode: a.StatusCode, TriggerType: int(a.TriggerType),
		},
	})
}

// disableGone disables an endpoint whose receiver answered 410 Gone.
func (d *Deliverer) disableGone(ctx context.Context, endpointID string) {
	disabled, ok, err := d.Store.DisableEndpoint(ctx, endpointID)
	if err != nil {
		d.Logger.WarnContext(ctx, "disabling an endpoint that answered 410 failed",
			slog.String("endpoint_id", endpointID), slog.String("error", err.Error()))
		return
	}
	if ok {
		observerOr(d.Observer).EndpointDisabled("gone")
		EmitDisabled(ctx, d.Events, d.Logger, disabled, "gone")
	}
}

// emit sends an operational event, logging a failure (the attempt itself
// is recorded either way).
func (d *Deliverer) emit(ctx context.Context, orgID, event string, data any) {
	if d.Events == nil {
		return
	}
	ev := webhook.OperationalEvent{Type: event, Timestamp: d.now().UTC(), Data: data}
	if err := d.Events.Emit(ctx, orgID, ev); err != nil {
		d.Logger.WarnContext(ctx, "emitting an operational event failed", slog.String("type", event), slog.String("error", err.Error()))
	}
}

// EmitDisabled sends endpoint.disabled for an endpoint hookd disabled
// (reason "gone" or "failing"; the trigger is automatic).
func EmitDisabled(ctx context.Context, events webhook.OperationalEmitter, logger *slog.Logger, ep webhook.DisabledEndpoint, reason string) {
	logger.InfoContext(ctx, "endpoint disabled", slog.String("endpoint_id", ep.ID), slog.String("app_id", ep.AppID), slog.String("reason", reason))
	if events == nil {
		return
	}
	ev := webhook.OperationalEvent{Type: webhook.EventEndpointDisabled, Timestamp: time.Now().UTC(), Data: webhook.EndpointEventData{
		AppID: ep.AppID, EndpointID: ep.ID, EndpointUID: ep.UID, FailSince: ep.FailingSince, Trigger: "automatic",
	}}
	if err := events.Emit(ctx, ep.OrgID, ev); err != nil {
		logger.WarnContext(ctx, "emitting endpoint.disabled failed", slog.String("endpoint_id", ep.ID), slog.String("error", err.Error()))
	}
}

// outcome names what a recorded attempt did to its delivery.
func outcome(rec *webhook.AttemptRecord) string {
	switch {
	case rec.Attempt.Status == webhook.StatusSuccess:
		return OutcomeSuccess
	case rec.KeepState:
		return OutcomeFailed
	case rec.NextAttemptAt != nil:
		return OutcomeRetry
	}
	return OutcomeExhausted
}

// endpointCacheSize caps the endpoints cached for first attempts.
const endpointCacheSize = 10000

// load returns the attempt's job. The first attempt of a just-published
// delivery carries its message in the task and takes the endpoint from a
// short-lived cache: no read of the delivery. Any other reads it back.
func (d *Deliverer) load(ctx context.Context, p DeliveryAttemptPayload) (*webhook.DeliveryJob, error) {
	f := p.Fresh
	if f == nil || p.Manual != "" || p.Round != 0 || p.Number != 1 {
		return d.Store.LoadDelivery(ctx, p.DeliveryID)
	}
	d.cacheOnce.Do(func() {
		ttl := d.EndpointTTL
		if ttl == 0 {
			ttl = time.Second
		}
		d.endpoints = ttlcache.New[string, webhook.Endpoint](ttl, endpointCacheSize)
	})
	ep, err := d.endpoints.Load(f.EndpointID, func() (webhook.Endpoint, error) {
		ep, err := d.Store.FindEndpointByID(ctx, f.EndpointID)
		if err != nil {
			return webhook.Endpoint{}, err
		}
		return *ep, nil
	})
	if err != nil {
		return nil, err
	}
	now := d.now()
	return &webhook.DeliveryJob{
		Delivery: webhook.Delivery{
			ID: p.DeliveryID, OrgID: f.OrgID, AppID: f.AppID, MessageID: f.MessageID, EndpointID: f.EndpointID,
			Status: webhook.StatusPending, NextAttemptAt: &now,
		},
		Message:  webhook.Message{ID: f.MessageID, OrgID: f.OrgID, AppID: f.AppID, EventType: f.EventType, Payload: f.Payload},
		Endpoint: ep,
	}, nil
}

// attempt makes the HTTP request (unless the endpoint is disabled) and
// returns what to record.
func (d *Deliverer) attempt(ctx context.Context, job *webhook.DeliveryJob, p DeliveryAttemptPayload) *webhook.AttemptRecord {
	dl, ep, msg := &job.Delivery, &job.Endpoint, &job.Message
	rec := &webhook.AttemptRecord{
		TaskKey: p.TaskKey(),
		Round:   p.Round,
		Number:  p.Number,
		Attempt: webhook.Attempt{
			DeliveryID: dl.ID, OrgID: dl.OrgID, AppID: dl.AppID, MessageID: dl.MessageID,
			EndpointID: dl.EndpointID, URL: ep.URL, TriggerType: webhook.TriggerScheduled,
		},
	}
	if p.Manual != "" {
		rec.Attempt.TriggerType = webhook.TriggerManual
	}
	var res *egress.Response
	var err error
	switch {
	case ep.Disabled && p.Manual == "":
		rec.Attempt.Response = "not attempted: the endpoint is disabled"
		rec.Attempt.Status, rec.Status = webhook.StatusFail, webhook.StatusFail
		return rec
	case msg.Payload == nil:
		rec.Attempt.Response = "not attempted: the message payload was expunged or has expired"
		rec.Attempt.Status, rec.Status = webhook.StatusFail, webhook.StatusFail
		return rec
	default:
		res, err = d.send(ctx, ep, msg)
	}
	if res != nil {
		rec.Attempt.StatusCode = res.StatusCode
		rec.Attempt.Response = webhook.StorableText(res.Body)
		rec.Attempt.DurationMs = res.Duration.Milliseconds()
	}
	if err != nil {
		// Customers see a stable reason; the full error is for the operator.
		rec.Attempt.Response = d.Client.Reason(err)
		d.Logger.LogAttrs(ctx, slog.LevelInfo, "attempt failed", slog.String("delivery_id", dl.ID),
			slog.String("endpoint_id", dl.EndpointID), slog.String("error", err.Error()))
	}
	if err == nil && res.StatusCode >= 200 && res.StatusCode < 300 {
		rec.Attempt.Status, rec.Status = webhook.StatusSuccess, webhook.StatusSuccess
		return rec
	}
	rec.Attempt.Status = webhook.StatusFail
	if p.Manual != "" {
		rec.KeepState = true // a failed manual attempt leaves the schedule alone
		return rec
	}
	if res != nil && res.StatusCode == http.StatusGone {
		rec.Status = webhook.StatusFail // the receiver is gone for good: no retry
		return rec
	}
	status, retryAfter := 0, ""
	if res != nil {
		status, retryAfter = res.StatusCode, res.Header.Get("Retry-After")
	}
	now := d.now()
	delay, ok := retry.NextDelay(d.Schedule, p.Number, status, retryAfter, now, nil)
	if !ok {
		rec.Status = webhook.StatusFail // dead letter: kept, listed, replayable
		return rec
	}
	next := now.Add(delay)
	rec.Status, rec.NextAttemptAt = webhook.StatusSending, &next
	return rec
}

// send signs and POSTs the payload with every valid secret of ep.
func (d *Deliverer) send(ctx context.Context, ep *webhook.Endpoint, msg *webhook.Message) (*egress.Response, error) {
	now := d.now()
	var keys []signature.Secret
	for _, s := range ep.SigningSecrets(now) {
		k, err := signature.ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s has an unusable secret: %w", ep.ID, err)
		}
		keys = append(keys, k)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(msg.Payload))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	for name, value := range ep.Headers {
		req.Header.Set(name, value)
	}
	req.Header.Set("Content-Type", "application/json")
	d.Headers.Set(req.Header, msg.ID, now, signature.SignatureHeader(keys, msg.ID, now, msg.Payload))
	return d.Client.Do(ctx, req)
}
