package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/loop"
	"github.com/hookd/hookd/pkg/webhook"
)

// OrderingStore is what an OrderingWatch reads and writes (postgres.DB).
type OrderingStore interface {
	// BlockedKeys returns up to limit ordering keys whose head has been
	// the head since before blockedBefore while later deliveries of the key
	// are held, and that were not returned before for the same head; it
	// marks them returned.
	BlockedKeys(ctx context.Context, blockedBefore time.Time, limit int) ([]webhook.BlockedKey, error)
	// TidyOrderingKeys forgets up to limit keys idle since before
	// idleBefore, and hands on the keys whose head delivery is gone
	// (deleted with its message or endpoint), returning the deliveries
	// it made due.
	TidyOrderingKeys(ctx context.Context, idleBefore time.Time, limit int) ([]webhook.Delivery, error)
}

// OrderingWatch looks after ordering keys: it sends
// message.ordering.blocked once for a key whose head has been failing, and
// others waiting behind it, for longer than BlockedAfter, and it tidies the
// keys (forgets idle ones, hands on those whose head was deleted).
type OrderingWatch struct {
	Store  OrderingStore // required
	Queue  Queue         // required: for the deliveries a tidy makes due
	Events webhook.OperationalEmitter
	// Logger receives a line per run that did something; nil: nothing.
	Logger *slog.Logger
	// BlockedAfter is HOOKD_ORDERING_BLOCKED_ALERT; 0 means 10 minutes.
	BlockedAfter time.Duration
	// Interval between runs; 0 means 30s.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// idleKeyTTL is how long an idle ordering key is kept before it is
// forgotten (a key in use is never forgotten).
const idleKeyTTL = time.Hour

// Run loops until ctx is done.
func (w *OrderingWatch) Run(ctx context.Context) {
	loop.Every(ctx, w.Interval, 30*time.Second, func(ctx context.Context) {
		if err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			loggerOr(w.Logger).WarnContext(ctx, "ordering watch failed", slog.String("error", err.Error()))
		}
	})
}

// RunOnce reports the newly blocked keys and tidies, once.
func (w *OrderingWatch) RunOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	after := w.BlockedAfter
	if after == 0 {
		after = 10 * time.Minute
	}
	blocked, err := w.Store.BlockedKeys(ctx, now().Add(-after), 1000)
	if err != nil {
		return err
	}
	for _, k := range blocked {
		loggerOr(w.Logger).WarnContext(ctx, "ordering key blocked", slog.String("endpoint_id", k.EndpointID),
			slog.String("msg_id", k.HeadMessageID), slog.Time("since", k.Since), slog.Int("waiting", k.Waiting))
		if w.Events == nil {
			continue
		}
		ev := webhook.OperationalEvent{Type: webhook.EventMessageOrderingBlocked, Timestamp: now().UTC(),
			Data: webhook.OrderingBlockedEventData{
				AppID: k.AppID, EndpointID: k.EndpointID, OrderingKey: k.Key, MsgID: k.HeadMessageID,
				BlockedSince: k.Since.UTC(), Waiting: k.Waiting,
			}}
		if err := w.Events.Emit(ctx, k.OrgID, ev); err != nil {
			loggerOr(w.Logger).WarnContext(ctx, "emitting message.ordering.blocked failed", slog.String("error", err.Error()))
		}
	}
	released, err := w.Store.TidyOrderingKeys(ctx, now().Add(-idleKeyTTL), 1000)
	if err != nil {
		return err
	}
	return w.Queue.Enqueue(ctx, JobsFor(nil, released)...)
}
