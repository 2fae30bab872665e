package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// AttemptStore is what an Attempter reads and writes (postgres.DB).
type AttemptStore interface {
	// LoadDelivery returns a delivery with its message and endpoint,
	// ENOTFOUND when any of them is gone.
	LoadDelivery(ctx context.Context, id string) (*webhook.DeliveryJob, error)
	// FindEndpointByID returns an endpoint by id alone, ENOTFOUND if gone.
	FindEndpointByID(ctx context.Context, id string) (*webhook.Endpoint, error)
	// RecordAttempt stores an attempt and applies its transition, in one
	// statement. It returns false, storing nothing, when an attempt with
	// the same task key was recorded before, or when the delivery's
	// endpoint was deleted meanwhile. EINVALID means the store refused the
	// record's content.
	RecordAttempt(ctx context.Context, rec *webhook.AttemptRecord) (bool, error)
	// DisableEndpoint disables an endpoint and fails its scheduled
	// deliveries; ok is false when it was disabled already or is gone.
	DisableEndpoint(ctx context.Context, id string) (d webhook.DisabledEndpoint, ok bool, err error)
	// VerifyEndpoint marks an endpoint verified if it is still pending
	// verification with challenge; ok is false when it is not.
	VerifyEndpoint(ctx context.Context, id, challenge string) (ok bool, err error)
	// EventTypeRetrySchedule returns the retry schedule of an event type
	// of an organisation; ok is false when it has none or does not exist.
	EventTypeRetrySchedule(ctx context.Context, orgID, name string) (schedule []time.Duration, ok bool, err error)
}

// Sender sends one delivery request: egress.Client, with its SSRF guard and
// limits; options carry an endpoint's TLS settings (egress.WithTLS).
type Sender interface {
	DoWith(ctx context.Context, req *http.Request, opts ...egress.Option) (*egress.Response, error)
	// Reason is what a failed request's error is recorded as: a stable
	// sentence that leaks nothing of hookd's internals (egress.Client.Reason).
	Reason(err error) string
}

// Result is what became of a job that did not fail.
type Result struct {
	// Throttled is set when no request was made because the endpoint is at
	// its rate limit or in-flight cap: the queue runs the job again after
	// RetryIn, and it does not count as an attempt or a failure.
	Throttled bool
	RetryIn   time.Duration
}

// Attempter makes attempts: Attempt runs one job. It is safe for concurrent
// use; its fields must not change once it is in use.
type Attempter struct {
	Store AttemptStore // required
	Queue Queue        // required: where the next attempt is scheduled
	Send  Sender       // required
	// Schedule is the retry schedule of messages whose event type has none
	// of its own (webhook.EventType.RetrySchedule).
	Schedule retry.Schedule
	// ScheduleTTL is how long the retry schedule of an event type is kept
	// once read; 0 means 5 seconds. A change reaches attempts within it.
	ScheduleTTL time.Duration
	// Headers names the signature headers (webhook-* or svix-*).
	Headers signature.HeaderNames
	// Throttle holds back attempts to endpoints at their rate limit or
	// in-flight cap; nil: none are.
	Throttle *Throttle
	// Observer is told every attempt's outcome (metrics); nil: nobody.
	Observer Observer
	// Events receives operational events (message.attempt.failing,
	// .exhausted, .recovered, endpoint.disabled); nil: none are sent.
	Events webhook.OperationalEmitter
	// Logger receives what operators need to know; nil: nothing is logged.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// EndpointTTL is how long fresh first attempts reuse an endpoint they
	// read; 0 means one second.
	EndpointTTL time.Duration
	// FreshFor is how long after its round began (Fresh.Due) a fresh
	// first attempt may skip reading its delivery; a later one reads it as
	// any other attempt does, and sends nothing if the attempt was made.
	// It must stay well under the Reconciler's grace: a fresh job that
	// reaches the queue so late that the Reconciler has queued, sent and
	// recorded the same attempt meanwhile would otherwise be sent again.
	// 0: no bound.
	FreshFor time.Duration
	// RecordTimeout is how long the outcome of a request that was sent is
	// retried for recording when the store fails; 0 means 10 minutes. Only
	// past it is the attempt given up with an error, and the queue runs it
	// again: the one case where a request is sent twice.
	RecordTimeout time.Duration
	// OAuth sends the requests of endpoints with an OAuth2 configuration;
	// nil: their attempts fail, saying so.
	OAuth TokenSender
	// Transform runs endpoints' transformations; nil: the attempts of
	// endpoints with an active one fail, saying so.
	Transform Transformer
	// HTTPSOnly refuses a transformed URL that is not https
	// (HOOKD_ENDPOINT_HTTPS_ONLY), as the API refuses such endpoint URLs.
	HTTPSOnly bool
	// Tracer records a span per attempt and per request, and sends the
	// trace context to receivers; nil: nothing is traced.
	Tracer Tracer

	cacheOnce sync.Once
	// endpoints keeps the endpoints fresh first attempts read, for
	// EndpointTTL: a burst to one endpoint reads it once; a change reaches
	// fresh attempts within the TTL, and every other attempt reads afresh.
	endpoints *ttlcache.Cache[string, webhook.Endpoint]
	// schedules keeps the retry schedules of event types, by organisation
	// and name, for ScheduleTTL.
	schedules *ttlcache.Cache[[2]string, typeSchedule]
	// tls keeps the endpoints' parsed TLS options.
	tls tlsCache
}

// attempt is one job at work: its message, its endpoint and, unless it is
// the fresh first attempt of a just-published delivery, the delivery's
// stored state.
type attempt struct {
	ref      Ref
	msg      webhook.Message
	ep       webhook.Endpoint
	delivery *webhook.Delivery // nil: fresh, pending and never attempted
	// held is why the endpoint's verification holds the attempt back; "": it does not.
	held string
	// shaped is the request the endpoint's transformation asked for; nil:
	// none ran.
	shaped *transformed
}

// sendable reports whether a request can be made: the payload is there,
// the endpoint is enabled (a manual attempt goes to a disabled one too),
// and its verification does not hold the attempt back.
func (at *attempt) sendable() bool {
	return at.msg.Payload != nil && (!at.ep.Disabled || at.ref.IsManual()) && at.held == ""
}

// Attempt runs job: it loads what the attempt needs, lets the endpoint's
// throttle decide, signs and sends the request, decides the transition,
// records the attempt and the transition, tells the observer and the
// operational events, and schedules the next attempt.
//
// A job whose delivery, message or endpoint is gone, and a scheduled
// attempt the delivery has moved past (finished, recovered, made already),
// do nothing. An error means our own infrastructure failed (the store, the
// queue, the rate limiter): the job must run again later, and it never uses
// up the endpoint's schedule. Once a request was sent, its outcome is
// retried for recording for RecordTimeout rather than answered with an
// error, so a store outage does not make the request be sent again.
func (a *Attempter) Attempt(ctx context.Context, job Job) (Result, error) {
	if a.Tracer != nil {
		return a.attemptTraced(ctx, job)
	}
	return a.attempt(ctx, job)
}

// attempt is Attempt.
func (a *Attempter) attempt(ctx context.Context, job Job) (Result, error) {
	at, err := a.load(ctx, job)
	if webhook.ErrorCode(err) == webhook.ENOTFOUND {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("loading delivery %s: %w", job.Ref.DeliveryID, err)
	}
	if at.delivery != nil && !job.Ref.isCurrent(at.delivery) {
		return Result{}, nil
	}
	if err := a.holdForVerification(ctx, at); err != nil {
		return Result{}, fmt.Errorf("loading endpoint %s: %w", at.ep.ID, err)
	}
	schedule, err := a.scheduleOf(ctx, &at.msg)
	if err != nil {
		return Result{}, fmt.Errorf("reading the retry schedule of event type %s: %w", at.msg.EventType, err)
	}
	ctx = a.startAttemptSpan(ctx, at)
	var (
		out = Outcome{NotSent: !at.sendable()}
		res *egress.Response
	)
	if !out.NotSent {
		release, retryIn, err := a.Throttle.Acquire(ctx, at.ep.ID, at.ep.ThrottleRate)
		if err != nil {
			return Result{}, err
		}
		if release == nil {
			a.observer().Throttled()
			return Result{Throttled: true, RetryIn: retryIn}, nil
		}
		res, out.Err = a.send(ctx, at)
		out.Cancelled = at.shaped != nil && at.shaped.cancel
		release()
		if res != nil {
			out.StatusCode, out.RetryAfter = res.StatusCode, res.Header.Get("Retry-After")
		}
		out = checkChallengeAnswer(at, res, out)
	}
	dec := Decide(out, at.ref, schedule, a.now(), nil)
	if err := a.verified(ctx, at, dec.Transition); err != nil {
		return Result{}, err
	}
	rec := a.recordOf(at, out, res, dec)
	recorded, err := a.save(ctx, rec)
	if err != nil {
		return Result{}, err
	}
	a.noteRecorded(ctx, rec, recorded)
	a.log().LogAttrs(ctx, slog.LevelDebug, "attempt",
		slog.String("msg_id", at.msg.ID), slog.String("endpoint_id", at.ep.ID),
		slog.String("delivery_id", at.ref.DeliveryID), slog.Int("status_code", out.StatusCode),
		slog.String("transition", dec.Transition.String()), slog.Bool("recorded", recorded))
	if !recorded {
		return Result{}, nil // a run of this job before us recorded it
	}
	a.observer().AttemptDone(outcomeName(dec.Transition), out.StatusCode, time.Duration(rec.Attempt.DurationMs)*time.Millisecond)
	a.tell(ctx, at, rec)
	var next []Job
	if dec.Transition == webhook.Retry {
		next = append(next, Job{Ref: at.ref.Next(), At: dec.NextAttemptAt, EndpointID: at.ep.ID})
	}
	if r := rec.Released; r != nil {
		// The next delivery of the ordering key this one headed, with its
		// message when the store gave it.
		next = append(next, JobsFor(&r.Message, []webhook.Delivery{r.Delivery})...)
		if r.Message.Payload == nil {
			next[len(next)-1].Fresh = nil
		}
	}
	if len(next) > 0 {
		if err := a.Queue.Enqueue(ctx, next...); err != nil {
			// Recorded: the reconciler queues them once they are overdue.
			a.log().WarnContext(ctx, "queueing the next attempt failed; the reconciler will retry",
				slog.String("msg_id", at.msg.ID), slog.String("endpoint_id", at.ep.ID),
				slog.String("delivery_id", at.ref.DeliveryID), slog.String("error", err.Error()))
		}
	}
	return Result{}, nil
}

// endpointCacheSize caps the endpoints cached for fresh attempts.
const endpointCacheSize = 10000

// load returns what job's attempt needs. The fresh first attempt of a
// round (a delivery just published, released or replayed) carries its
// message and takes the endpoint from a short-lived cache, so it reads
// nothing else, unless cancel-msgs was asked for the endpoint since the
// message was published, or unless it runs more than FreshFor after its
// round began; any other attempt reads the delivery, its message and its
// endpoint afresh. (A fresh attempt does not see its delivery: one
// replayed or recovered again, or resent successfully, before it runs is
// sent once more, and the record's guard keeps its state.)
func (a *Attempter) load(ctx context.Context, job Job) (*attempt, error) {
	f := job.Fresh
	if f == nil || job.Ref.IsManual() || job.Ref.Number != 1 || a.stale(f) {
		dj, err := a.Store.LoadDelivery(ctx, job.Ref.DeliveryID)
		if err != nil {
			return nil, err
		}
		return &attempt{ref: job.Ref, msg: dj.Message, ep: dj.Endpoint, delivery: &dj.Delivery}, nil
	}
	ep, err := a.endpointCache().Load(f.EndpointID, func() (webhook.Endpoint, error) {
		ep, err := a.Store.FindEndpointByID(ctx, f.EndpointID)
		if err != nil {
			return webhook.Endpoint{}, err
		}
		return *ep, nil
	})
	if err != nil {
		return nil, err
	}
	if ep.CancelledAt != nil && f.MessageID < webhook.TimeID(webhook.PrefixMessage, ep.CancelledAt.Add(time.Second)) {
		// cancel-msgs was asked after this message was published: its
		// delivery may be cancelled, which only the stored state tells. (A
		// second of margin covers clocks of different processes.)
		return a.load(ctx, Job{Ref: job.Ref})
	}
	msg := webhook.Message{
		ID: f.MessageID, OrgID: f.OrgID, AppID: f.AppID, EventType: f.EventType, EventID: f.EventID, Payload: f.Payload,
		Trace: f.Trace,
	}
	return &attempt{ref: job.Ref, msg: msg, ep: ep}, nil
}

// stale reports whether a fresh attempt runs too long after its round began
// to trust that its attempt was not made meanwhile (FreshFor).
func (a *Attempter) stale(f *Fresh) bool {
	return a.FreshFor > 0 && !f.Due.IsZero() && a.now().Sub(f.Due) > a.FreshFor
}

// endpointCache returns the cache of endpoints read by fresh attempts.
func (a *Attempter) endpointCache() *ttlcache.Cache[string, webhook.Endpoint] {
	a.cacheOnce.Do(a.initCaches)
	return a.endpoints
}

// send signs and sends the attempt's request, with the endpoint's
// authentication (sendAs). It sends nothing, and returns nil, when the
// endpoint's transformation cancelled the attempt (at.shaped.cancel).
func (a *Attempter) send(ctx context.Context, at *attempt) (*egress.Response, error) {
	req, err := a.prepare(ctx, at, a.now())
	if err != nil || req == nil {
		return nil, err
	}
	return a.sendTraced(ctx, &at.ep, req)
}

// Responses recorded for attempts that made no request.
const (
	notSentDisabled  = "not attempted: the endpoint is disabled"
	notSentExpired   = "not attempted: the message payload was expunged or has expired"
	notSentCancelled = "not sent: cancelled by transformation (webhook.cancel = true)"
)

// recordOf returns the record of an attempt: what was sent and answered,
// and the transition dec.
func (a *Attempter) recordOf(at *attempt, out Outcome, res *egress.Response, dec Decision) *webhook.AttemptRecord {
	rec := &webhook.AttemptRecord{
		TaskKey: at.ref.Key(), Round: at.ref.Round, Number: at.ref.Number, Transition: dec.Transition,
		Attempt: webhook.Attempt{
			DeliveryID: at.ref.DeliveryID, OrgID: at.msg.OrgID, AppID: at.msg.AppID, MessageID: at.msg.ID,
			EndpointID: at.ep.ID, URL: egress.MaskUserinfo(at.attemptURL()), TriggerType: webhook.TriggerScheduled, Status: webhook.StatusFail,
		},
	}
	if at.ref.IsManual() {
		rec.Attempt.TriggerType = webhook.TriggerManual
	}
	switch {
	case dec.Transition == webhook.Succeeded:
		rec.Attempt.Status = webhook.StatusSuccess
	case out.Cancelled:
		rec.Attempt.Status = webhook.StatusCanceled
		rec.Attempt.Response = notSentCancelled
	}
	if dec.Transition == webhook.Cancelled {
		rec.Reason = webhook.ReasonTransformCancelled
	}
	if dec.Transition == webhook.Retry {
		next := dec.NextAttemptAt
		rec.NextAttemptAt = &next
	}
	switch {
	case out.NotSent && at.msg.Payload == nil:
		rec.Attempt.Response = notSentExpired
	case out.NotSent && at.held != "":
		rec.Attempt.Response = at.held
	case out.NotSent:
		rec.Attempt.Response = notSentDisabled
	case res != nil:
		rec.Attempt.StatusCode = res.StatusCode
		rec.Attempt.Response = responseText(res.Body)
		rec.Attempt.DurationMs = res.Duration.Milliseconds()
	}
	if out.Err != nil {
		// Customers see a stable reason; the full error is for the operator.
		rec.Attempt.Response = a.reason(out.Err)
		a.log().LogAttrs(context.Background(), slog.LevelInfo, "attempt failed",
			slog.String("delivery_id", at.ref.DeliveryID), slog.String("endpoint_id", at.ep.ID),
			slog.String("error", out.Err.Error()))
	}
	return rec
}

// unstorableResponse replaces a response the store refused.
const unstorableResponse = "the response could not be stored"

// save records rec. Once a request was sent its outcome must not be lost to
// a store failure, or the queue would send the request again: a failing
// store is retried (persist), even after ctx ends. A record the store
// refuses for its content is stored without the response.
func (a *Attempter) save(ctx context.Context, rec *webhook.AttemptRecord) (bool, error) {
	var recorded bool
	id := slog.String("delivery_id", rec.Attempt.DeliveryID)
	tries, err := a.persist(ctx, "recording an attempt", id, func(ctx context.Context) error {
		r, err := a.Store.RecordAttempt(ctx, rec)
		if webhook.ErrorCode(err) == webhook.EINVALID && rec.Attempt.Response != unstorableResponse {
			a.log().ErrorContext(ctx, "the store refused an attempt's response; recording it without",
				id, slog.String("error", err.Error()))
			rec.Attempt.Response = unstorableResponse
			r, err = a.Store.RecordAttempt(ctx, rec)
		}
		recorded = r
		return err
	})
	if err != nil {
		return false, fmt.Errorf("recording attempt %s of delivery %s: %w", rec.TaskKey, rec.Attempt.DeliveryID, err)
	}
	if tries > 1 {
		a.log().InfoContext(ctx, "attempt recorded after the store came back", id, slog.Int("tries", tries))
	}
	return recorded, nil
}

// persist runs write until it succeeds: a failing store is retried with
// back-off (50 ms doubling to 5 s) for RecordTimeout (10 minutes when
// zero), even after ctx ends, with a warning naming what and attr at the
// first failure and every 20th. It returns the tries it took, or, when it
// gave up, the last error.
func (a *Attempter) persist(ctx context.Context, what string, attr slog.Attr, write func(context.Context) error) (int, error) {
	timeout := a.RecordTimeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	wait := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := write(ctx)
		if err == nil {
			return try, nil
		}
		if try == 1 || try%20 == 0 {
			a.log().WarnContext(ctx, what+" failed; retrying", attr, slog.Int("tries", try), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return try, fmt.Errorf("gave up after %d tries: %w", try, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// tell lets operators know what the recorded attempt changed: an endpoint
// that answered 410 Gone is disabled, and the delivery's operational events
// are emitted (failing after the FailingAfterAttempts-th failed attempt,
// exhausted, recovered).
func (a *Attempter) tell(ctx context.Context, at *attempt, rec *webhook.AttemptRecord) {
	if rec.Attempt.StatusCode == http.StatusGone {
		a.disableGone(ctx, at.ep.ID)
	}
	var event string
	switch rec.Transition {
	case webhook.Succeeded:
		if at.ref.Number <= 1 && (at.delivery == nil || at.delivery.Status != webhook.StatusFail) {
			return
		}
		event = webhook.EventMessageAttemptRecovered
	case webhook.Exhausted, webhook.EndpointGone:
		event = webhook.EventMessageAttemptExhausted
		a.log().LogAttrs(ctx, slog.LevelWarn, "delivery failed for good (dead letter)",
			slog.String("msg_id", at.msg.ID), slog.String("endpoint_id", at.ep.ID),
			slog.String("delivery_id", at.ref.DeliveryID), slog.Int("status_code", rec.Attempt.StatusCode))
	case webhook.Retry:
		if at.ref.Number != webhook.FailingAfterAttempts {
			return
		}
		event = webhook.EventMessageAttemptFailing
	default:
		return
	}
	last := &rec.Attempt
	a.emit(ctx, at.msg.OrgID, event, webhook.AttemptEventData{
		AppID: at.msg.AppID, MsgID: at.msg.ID, MsgEventID: at.msg.EventID, EndpointID: at.ep.ID,
		LastAttempt: webhook.LastAttempt{
			ID: last.ID, Timestamp: last.CreatedAt, ResponseStatusCode: last.StatusCode, TriggerType: int(last.TriggerType),
		},
	})
}

// disableGone disables an endpoint whose receiver answered 410 Gone.
func (a *Attempter) disableGone(ctx context.Context, endpointID string) {
	disabled, ok, err := a.Store.DisableEndpoint(ctx, endpointID)
	if err != nil {
		a.log().WarnContext(ctx, "disabling an endpoint that answered 410 failed",
			slog.String("endpoint_id", endpointID), slog.String("error", err.Error()))
		return
	}
	if ok {
		a.observer().EndpointDisabled("gone")
		emitDisabled(ctx, a.Events, a.log(), a.now(), disabled, "gone")
	}
}

// emit sends an operational event, logging a failure: the attempt is
// recorded either way.
func (a *Attempter) emit(ctx context.Context, orgID, event string, data any) {
	if a.Events == nil {
		return
	}
	ev := webhook.OperationalEvent{Type: event, Timestamp: a.now().UTC(), Data: data}
	if err := a.Events.Emit(ctx, orgID, ev); err != nil {
		a.log().WarnContext(ctx, "emitting an operational event failed", slog.String("type", event), slog.String("error", err.Error()))
	}
}

func (a *Attempter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Attempter) log() *slog.Logger { return loggerOr(a.Logger) }

func (a *Attempter) observer() Observer { return observerOr(a.Observer) }

// outcomeName names a transition for the Observer.
func outcomeName(t webhook.Transition) string {
	switch t {
	case webhook.Succeeded:
		return OutcomeSuccess
	case webhook.Retry:
		return OutcomeRetry
	case webhook.ManualFailed:
		return OutcomeFailed
	case webhook.Cancelled:
		return OutcomeCancelled
	}
	return OutcomeExhausted
}
