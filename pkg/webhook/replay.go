package webhook

import (
	"context"
	"time"
)

// ReplayBatch is one batch of a replay to one endpoint: the next Scan
// rows of the range (the endpoint's deliveries for a bulk replay, its
// application's messages for replay-missing) whose message was created in
// [Since, Until) and whose message id is after After, in message order.
// What the batch picks among them is due at Start, and the next ones each
// Spacing later (the endpoint's rate limit; 0: all at Start).
type ReplayBatch struct {
	AppID      string
	EndpointID string
	Since      time.Time
	Until      time.Time
	// After is the last message id an earlier batch looked at; "" at the start.
	After string
	// Scan bounds the rows one batch looks at, matching or not, so that a
	// batch of a selective filter stays short.
	Scan    int
	Start   time.Time
	Spacing time.Duration
	// Filter narrows a bulk replay; replay-missing ignores it.
	Filter ReplayFilter
}

// ReplayFilter narrows a bulk replay to some of an endpoint's
// deliveries (BulkReplayIn); zero fields keep all.
type ReplayFilter struct {
	EventTypes []string
	Channel    string
	Tag        string
	// Status keeps deliveries of that status.
	Status *MessageStatus
	// StatusCodeClass keeps deliveries whose last attempt's response
	// status is in [c, c+100); 0 keeps those whose last attempt got no
	// response. A delivery never attempted has no class.
	StatusCodeClass *int
}

// ReplayStep is what one batch of a replay did.
type ReplayStep struct {
	// Queued are the deliveries made due: restarted in a new round (bulk
	// replay) or created (replay-missing), in message order.
	Queued []Delivery
	// Messages are the messages of Queued, one each in the same order,
	// with their payloads (bulk replay; replay-missing reads them first).
	Messages []Message
	// ScannedTo is the last message id the batch looked at: the next
	// batch's After.
	ScannedTo string
	// Done is set when the range has no more rows after ScannedTo.
	Done bool
}

// CancelStep is what one batch of a cancellation did.
type CancelStep struct {
	// Cancelled counts the deliveries cancelled.
	Cancelled int
	// Last is the highest message id cancelled; "" if none.
	Last string
	// Released are the deliveries made due because the head of their
	// ordering key was cancelled: they must be queued.
	Released []Delivery
}

// ReplayPreview is what a replay would send (?dryRun=true).
type ReplayPreview struct {
	Count int
	// First are the ids of the first messages it would send, oldest first.
	First []string
}

// BulkStore is the storage of the bulk operations the API starts itself:
// previews of replays, and the mark that cancel-msgs leaves on an endpoint.
type BulkStore interface {
	// PreviewBulkReplay counts the deliveries of b's endpoint that a bulk
	// replay with b's range and filter would send, and names the first
	// limit messages (b.After, Scan, Start and Spacing are ignored).
	PreviewBulkReplay(ctx context.Context, b ReplayBatch, limit int) (ReplayPreview, error)
	// PreviewReplayMissing counts the messages of b's range that b's
	// endpoint never received and that match its event types and channels.
	PreviewReplayMissing(ctx context.Context, ep *Endpoint, b ReplayBatch, limit int) (ReplayPreview, error)
	// MarkEndpointCancelled records that cancel-msgs was asked for ep at
	// at (Endpoint.CancelledAt).
	MarkEndpointCancelled(ctx context.Context, ep *Endpoint, at time.Time) error
}
