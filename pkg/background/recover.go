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

// RecoverParams are the parameters of an endpoint.recover task: the
// endpoint, and the creation times [Since, Until) of the messages whose
// failed deliveries start their retry schedule again.
type RecoverParams struct {
	EndpointID string    `json:"endpointId"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
}

// RecoverData is what an endpoint.recover task reports in its data.
type RecoverData struct {
	// Recovered counts the deliveries whose schedule restarted.
	Recovered int64 `json:"recovered"`
}

// RecoverStore is what Recover needs of the database.
type RecoverStore interface {
	RecoverDeliveries(ctx context.Context, endpointID string, since, until time.Time, after string, limit int) ([]webhook.Delivery, error)
}

// recoverBatch is how many deliveries one Step recovers by default.
const recoverBatch = 500

// Recover runs endpoint.recover tasks: batch by batch, in message order, it
// restarts the retry schedule of the endpoint's failed deliveries and
// enqueues their next attempt. The cursor is the last message id done.
type Recover struct {
	Store RecoverStore
	Queue delivery.Queue
	// BatchSize is how many deliveries one Step recovers; 0 means 500.
	BatchSize int
	Logger    *slog.Logger
}

// Step implements Runner. An enqueue that fails is only logged: the
// recovered deliveries are due in Postgres, and the reconciler enqueues
// what Redis did not take. A repeated Step finds the deliveries of the
// lost one no longer failed, and goes on after them.
func (r *Recover) Step(ctx context.Context, t *webhook.BackgroundTask) (Progress, error) {
	var params RecoverParams
	if err := json.Unmarshal(t.Params, &params); err != nil || params.EndpointID == "" {
		return Progress{}, webhook.Errorf(webhook.EINVALID, "the task's parameters are not those of %s", webhook.TaskEndpointRecover)
	}
	var data RecoverData
	_ = json.Unmarshal(t.Data, &data) // {} at the start
	limit := r.BatchSize
	if limit == 0 {
		limit = recoverBatch
	}
	batch, err := r.Store.RecoverDeliveries(ctx, params.EndpointID, params.Since, params.Until, t.Cursor, limit)
	if err != nil {
		return Progress{}, fmt.Errorf("recovering deliveries of %s: %w", params.EndpointID, err)
	}
	cursor := t.Cursor
	if len(batch) > 0 {
		if err := r.Queue.Enqueue(ctx, delivery.JobsFor(nil, batch)...); err != nil && r.Logger != nil {
			r.Logger.WarnContext(ctx, "enqueueing recovered deliveries failed; the reconciler will",
				slog.String("task_id", t.ID), slog.Int("deliveries", len(batch)), slog.String("error", err.Error()))
		}
		cursor = batch[len(batch)-1].MessageID
	}
	data.Recovered += int64(len(batch))
	raw, err := json.Marshal(data)
	if err != nil {
		return Progress{}, err
	}
	return Progress{Cursor: cursor, Data: raw, Done: len(batch) < limit}, nil
}
