package webhook

import (
	"context"
	"time"
)

// Operational event types, as Svix names them.
const (
	EventEndpointCreated         = "endpoint.created"
	EventEndpointUpdated         = "endpoint.updated"
	EventEndpointDeleted         = "endpoint.deleted"
	EventEndpointDisabled        = "endpoint.disabled"
	EventMessageAttemptFailing   = "message.attempt.failing"
	EventMessageAttemptExhausted = "message.attempt.exhausted"
	EventMessageAttemptRecovered = "message.attempt.recovered"
	// EventMessageOrderingBlocked is hookd's own: an ordering key has been
	// blocked behind its head for longer than the alert threshold.
	EventMessageOrderingBlocked = "message.ordering.blocked"
)

// FailingAfterAttempts is after how many failed attempts in a row of one
// delivery message.attempt.failing is sent (once).
const FailingAfterAttempts = 4

// OperationalEvent is a webhook about the platform, sent to an
// organisation's operational-webhook endpoints: {"type", "timestamp", "data"}.
type OperationalEvent struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// EndpointEventData is the data of endpoint.created, .updated, .deleted
// and .disabled (FailSince and Trigger only for disabled).
type EndpointEventData struct {
	AppID       string     `json:"appId"`
	AppUID      *string    `json:"appUid"`
	EndpointID  string     `json:"endpointId"`
	EndpointUID *string    `json:"endpointUid"`
	FailSince   *time.Time `json:"failSince,omitempty"`
	Trigger     string     `json:"trigger,omitempty"` // "automatic" or "manual"
}

// AttemptEventData is the data of message.attempt.failing, .exhausted and .recovered.
type AttemptEventData struct {
	AppID       string      `json:"appId"`
	AppUID      *string     `json:"appUid"`
	MsgID       string      `json:"msgId"`
	MsgEventID  *string     `json:"msgEventId"`
	EndpointID  string      `json:"endpointId"`
	LastAttempt LastAttempt `json:"lastAttempt"`
}

// OrderingBlockedEventData is the data of message.ordering.blocked: the
// key, its head (the message the others wait for) and how many wait.
type OrderingBlockedEventData struct {
	AppID        string    `json:"appId"`
	AppUID       *string   `json:"appUid"`
	EndpointID   string    `json:"endpointId"`
	EndpointUID  *string   `json:"endpointUid"`
	OrderingKey  string    `json:"orderingKey"`
	MsgID        string    `json:"msgId"`
	BlockedSince time.Time `json:"blockedSince"`
	Waiting      int       `json:"waiting"`
}

// BlockedKey is an ordering key whose head has been the head for long
// while later deliveries wait (OrderingBlockedEventData without the uids).
type BlockedKey struct {
	OrgID, AppID, EndpointID, Key string
	HeadMessageID                 string
	Since                         time.Time
	Waiting                       int
}

// LastAttempt summarises the attempt an AttemptEventData is about.
type LastAttempt struct {
	ID                 string    `json:"id"`
	Timestamp          time.Time `json:"timestamp"`
	ResponseStatusCode int       `json:"responseStatusCode"`
	TriggerType        int       `json:"triggerType"`
}

// OperationalEmitter publishes operational events of an organisation. It
// is best effort for the caller: the event is stored and delivered through
// the same pipeline as any message, with the same guarantees, once Emit
// returns nil.
type OperationalEmitter interface {
	Emit(ctx context.Context, orgID string, ev OperationalEvent) error
}
