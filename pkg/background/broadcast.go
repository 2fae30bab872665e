package background

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hookd/hookd/pkg/webhook"
)

// BroadcastParams are the parameters of a message.broadcast task: the
// message (MessageBroadcastIn) and the eventId every application's copy
// gets, the one given or one hookd chose. The payload is kept as a string
// of its bytes: the parameters are stored as jsonb, which would reorder
// an object's keys.
type BroadcastParams struct {
	EventType     string   `json:"eventType"`
	EventID       string   `json:"eventId"`
	Payload       string   `json:"payload"`
	Channels      []string `json:"channels,omitempty"`
	RetentionDays int      `json:"retentionDays"`
}

// BroadcastData is what a message.broadcast task reports in its data.
type BroadcastData struct {
	// MessagesCreated names the message of each application, as Svix's
	// data does, up to maxListedBroadcasts of them.
	MessagesCreated []BroadcastMessage `json:"messagesCreated"`
	// Total counts every application's message (a hookd extension).
	Total int64 `json:"messagesCreatedTotal"`
}

// BroadcastMessage is one application's message of a broadcast.
type BroadcastMessage struct {
	AppID string `json:"appId"`
	MsgID string `json:"msgId"`
}

// maxListedBroadcasts bounds BroadcastData.MessagesCreated: the data is
// rewritten after every batch.
const maxListedBroadcasts = 1000

// BroadcastStore is what Broadcast needs of the database (postgres.DB).
type BroadcastStore interface {
	// BroadcastApps returns, in id order, up to limit applications of the
	// organisation after the id after with an endpoint that a message of
	// eventType on channels goes to.
	BroadcastApps(ctx context.Context, orgID, eventType string, channels []string, after string, limit int) ([]string, error)
	FindMessage(ctx context.Context, app *webhook.Application, idOrEventID string) (*webhook.Message, error)
}

// Publisher publishes one message (delivery.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error)
}

// broadcastBatch is how many applications one Step publishes to by default.
const broadcastBatch = 100

// Broadcast runs message.broadcast tasks: batch by batch, in application
// id order (the cursor is the last application done), it publishes the
// message to each application of the organisation that has an endpoint it
// goes to, with the task's eventId. The eventId makes it idempotent per
// application: a Step repeated after a crash, or an application that has
// a message with that eventId already, finds that message rather than
// publishing another.
type Broadcast struct {
	Store     BroadcastStore // required
	Publisher Publisher      // required
	// BatchSize is how many applications one Step publishes to; 0 means 100.
	BatchSize int
}

// Step implements Runner.
func (b *Broadcast) Step(ctx context.Context, t *webhook.BackgroundTask) (Progress, error) {
	var p BroadcastParams
	if err := json.Unmarshal(t.Params, &p); err != nil || p.EventType == "" || p.EventID == "" {
		return Progress{}, webhook.Errorf(webhook.EINVALID, "the task's parameters are not those of %s", t.Kind)
	}
	data := BroadcastData{MessagesCreated: []BroadcastMessage{}}
	_ = json.Unmarshal(t.Data, &data)
	limit := b.BatchSize
	if limit == 0 {
		limit = broadcastBatch
	}
	apps, err := b.Store.BroadcastApps(ctx, t.OrgID, p.EventType, p.Channels, t.Cursor, limit)
	if err != nil {
		return Progress{}, err
	}
	cursor := t.Cursor
	for _, appID := range apps {
		msgID, err := b.publish(ctx, t.OrgID, appID, &p)
		if err != nil {
			return Progress{}, err
		}
		cursor = appID
		if msgID == "" {
			continue // the application was deleted meanwhile
		}
		data.Total++
		if len(data.MessagesCreated) < maxListedBroadcasts {
			data.MessagesCreated = append(data.MessagesCreated, BroadcastMessage{AppID: appID, MsgID: msgID})
		}
	}
	raw, err := json.Marshal(data)
	return Progress{Cursor: cursor, Data: raw, Done: len(apps) < limit}, err
}

// publish publishes the broadcast's message to one application and
// returns its id: that of the message with the eventId if the application
// has one already, "" if the application is gone.
func (b *Broadcast) publish(ctx context.Context, orgID, appID string, p *BroadcastParams) (string, error) {
	eventID := p.EventID
	msg := &webhook.Message{
		OrgID: orgID, AppID: appID, EventType: p.EventType, EventID: &eventID, Channels: p.Channels,
		Payload: json.RawMessage(p.Payload), RetentionDays: p.RetentionDays,
	}
	_, err := b.Publisher.Publish(ctx, msg, "")
	switch webhook.ErrorCode(err) {
	case "":
		return msg.ID, nil
	case webhook.ECONFLICT:
		found, err := b.Store.FindMessage(ctx, &webhook.Application{ID: appID, OrgID: orgID}, eventID)
		if err != nil {
			return "", fmt.Errorf("finding the message with eventId %s of %s: %w", eventID, appID, err)
		}
		return found.ID, nil
	case webhook.ENOTFOUND:
		return "", nil
	}
	return "", fmt.Errorf("publishing to %s: %w", appID, err)
}
