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

// CancelParams are the parameters of an endpoint.cancel task: the
// endpoint, and the time before which the messages whose pending and
// retrying deliveries are cancelled were created.
type CancelParams struct {
	EndpointID    string    `json:"endpointId"`
	CreatedBefore time.Time `json:"createdBefore"`
}

// CancelData is what an endpoint.cancel task reports in its data.
type CancelData struct {
	// Canceled counts the deliveries cancelled.
	Canceled int64 `json:"canceled"`
}

// cancelCursor is where a cancellation is: cancelling held deliveries,
// then due ones after message id After.
type cancelCursor struct {
	Due   bool   `json:"due,omitempty"`
	After string `json:"after,omitempty"`
}

// CancelStore is what Cancel needs of the database (postgres.DB).
type CancelStore interface {
	FindEndpointByID(ctx context.Context, id string) (*webhook.Endpoint, error)
	CancelHeld(ctx context.Context, endpointID, beforeID string, limit int) (int, error)
	CancelDue(ctx context.Context, appID, endpointID, after, beforeID string, limit int) (webhook.CancelStep, error)
}

// cancelBatch is how many deliveries one Step cancels by default.
const cancelBatch = 500

// Cancel runs endpoint.cancel tasks (cancel-msgs): batch by batch it
// cancels the endpoint's deliveries of messages created before the
// task's time that are held behind their ordering key, then those pending
// or retrying, in message order. Cancelling a key's head hands the key on
// in the same transaction, and the delivery made due is queued. A Step
// repeated after a crash finds its deliveries cancelled already.
type Cancel struct {
	Store CancelStore    // required
	Queue delivery.Queue // required: for the deliveries cancelled heads release
	// BatchSize is how many deliveries one Step cancels; 0 means 500.
	BatchSize int
	Logger    *slog.Logger
}

// Step implements Runner. The task is done after a batch that cancelled
// nothing.
func (c *Cancel) Step(ctx context.Context, t *webhook.BackgroundTask) (Progress, error) {
	var p CancelParams
	if err := json.Unmarshal(t.Params, &p); err != nil || p.EndpointID == "" {
		return Progress{}, webhook.Errorf(webhook.EINVALID, "the task's parameters are not those of %s", t.Kind)
	}
	var data CancelData
	_ = json.Unmarshal(t.Data, &data)
	var cur cancelCursor
	_ = json.Unmarshal([]byte(t.Cursor), &cur) // "" at the start
	limit := c.BatchSize
	if limit == 0 {
		limit = cancelBatch
	}
	before := webhook.TimeID(webhook.PrefixMessage, p.CreatedBefore)
	done := false
	if !cur.Due {
		n, err := c.Store.CancelHeld(ctx, p.EndpointID, before, limit)
		if err != nil {
			return Progress{}, err
		}
		data.Canceled += int64(n)
		cur.Due = n == 0
	} else {
		ep, err := c.Store.FindEndpointByID(ctx, p.EndpointID)
		if webhook.ErrorCode(err) == webhook.ENOTFOUND {
			return c.progress(cur, data, true) // deleted with its deliveries
		}
		if err != nil {
			return Progress{}, fmt.Errorf("loading endpoint %s: %w", p.EndpointID, err)
		}
		step, err := c.Store.CancelDue(ctx, ep.AppID, ep.ID, cur.After, before, limit)
		if err != nil {
			return Progress{}, err
		}
		if len(step.Released) > 0 {
			if err := c.Queue.Enqueue(ctx, delivery.JobsFor(nil, step.Released)...); err != nil && c.Logger != nil {
				c.Logger.WarnContext(ctx, "queueing deliveries released by a cancellation failed; the reconciler will",
					slog.String("task_id", t.ID), slog.String("error", err.Error()))
			}
		}
		data.Canceled += int64(step.Cancelled)
		cur.After = max(cur.After, step.Last)
		done = step.Cancelled == 0
	}
	return c.progress(cur, data, done)
}

func (c *Cancel) progress(cur cancelCursor, data CancelData, done bool) (Progress, error) {
	rawCur, err := json.Marshal(cur)
	if err != nil {
		return Progress{}, err
	}
	rawData, err := json.Marshal(data)
	return Progress{Cursor: string(rawCur), Data: rawData, Done: done}, err
}
