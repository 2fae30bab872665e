package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message limits from the contract.
const (
	MaxMessageChannels   = 5
	MinRetentionDays     = 5
	MaxRetentionDays     = 90
	DefaultRetentionDays = 90
	// payloadRetentionHours, from the SDKs' document; it is rounded up to
	// whole days, at least MinRetentionDays.
	MinRetentionHours = 1
	MaxRetentionHours = 2160
)

// Message is one event published to an application. Its payload is kept as
// the exact bytes received (compacted), so a receiver sees the same keys in
// the same order.
type Message struct {
	ID        string
	OrgID     string
	AppID     string
	EventType string
	EventID   *string // unique per application when set
	Channels  []string
	Tags      []string
	// Payload is the JSON object as published; nil once expunged or expired.
	Payload json.RawMessage
	// RetentionDays is how long the payload is kept.
	RetentionDays int
	// OrderingKey, when set, orders the message's deliveries: to each
	// endpoint, the messages of one key are attempted in publish order
	// (docs/delivery.md, "Ordering").
	OrderingKey *string
	// Trace is the trace context of the span that published the message
	// when tracing is on; zero otherwise.
	Trace     TraceContext
	CreatedAt time.Time
}

// Ordering keys.
const (
	// MaxOrderingKeyLength bounds an ordering key.
	MaxOrderingKeyLength = 256
	// OrderingTagPrefix starts a tag that sets the ordering key, for
	// clients that can only send tags (the Svix SDKs): "ordering:<key>".
	OrderingTagPrefix = "ordering:"
)

// OrderingKeyOf returns the ordering key a message names: key when it is
// set, else the first tag "ordering:<key>", else nil. Both given and
// different is an error.
func OrderingKeyOf(key *string, tags []string) (*string, error) {
	for i, t := range tags {
		k, ok := strings.CutPrefix(t, OrderingTagPrefix)
		if !ok {
			continue
		}
		if key != nil && *key != k {
			return nil, Invalid("names another ordering key than orderingKey", "body", "tags", strconv.Itoa(i))
		}
		return &k, nil
	}
	return key, nil
}

// MaxTags bounds a message's tags.
const MaxTags = 5

// tagPattern is a tag's form in the Svix API.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_./\\#]+$`)

// ValidTag reports whether s is a tag a message may carry: at most
// MaxChannelLength characters of the contract's tag pattern, or
// "ordering:<key>" (a tag filter names one).
func ValidTag(s string) bool {
	v := &ValidationError{}
	checkTags(v, []string{s})
	return v.Err() == nil
}

// checkTags validates a message's tags: at most MaxTags, unique, each at
// most 128 characters of tagPattern, or "ordering:<key>" with a valid
// ordering key.
func checkTags(v *ValidationError, tags []string, loc ...string) {
	if len(tags) > MaxTags {
		v.Add(fmt.Sprintf("must have at most %d items", MaxTags), loc...)
	}
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		l := append(append([]string(nil), loc...), strconv.Itoa(i))
		switch key, ordering := strings.CutPrefix(t, OrderingTagPrefix); {
		case len(t) > MaxChannelLength:
			v.Add(fmt.Sprintf("must be at most %d characters", MaxChannelLength), l...)
		case ordering:
			checkOrderingKey(v, &key, l...)
		case !tagPattern.MatchString(t):
			v.Add(`must match ^[a-zA-Z0-9\-_./\\#]+$, or be "ordering:<key>"`, l...)
		}
		if seen[t] {
			v.Add(fmt.Sprintf("duplicate item %q", t), l...)
		}
		seen[t] = true
	}
}

// checkOrderingKey validates an ordering key: 1 to MaxOrderingKeyLength
// characters of valid UTF-8, no control characters.
func checkOrderingKey(v *ValidationError, key *string, loc ...string) {
	switch {
	case key == nil:
	case *key == "" || len(*key) > MaxOrderingKeyLength:
		v.Add(fmt.Sprintf("must be 1 to %d characters", MaxOrderingKeyLength), loc...)
	case !utf8.ValidString(*key) || strings.ContainsFunc(*key, unicode.IsControl):
		v.Add("must be valid UTF-8 without control characters", loc...)
	}
}

// Validate checks the message against the contract's rules.
func (m *Message) Validate() error {
	v := &ValidationError{}
	checkName(v, m.EventType, MaxEventTypeLength, "body", "eventType")
	checkUID(v, m.EventID, "body", "eventId")
	if m.Channels != nil {
		checkList(v, m.Channels, MaxChannelLength, 1, MaxMessageChannels, "body", "channels")
	}
	if m.Tags != nil {
		checkTags(v, m.Tags, "body", "tags")
	}
	checkOrderingKey(v, m.OrderingKey, "body", "orderingKey")
	if m.RetentionDays < MinRetentionDays || m.RetentionDays > MaxRetentionDays {
		v.Add(fmt.Sprintf("must be between %d and %d", MinRetentionDays, MaxRetentionDays), "body", "payloadRetentionPeriod")
	}
	if len(m.Payload) == 0 || m.Payload[0] != '{' {
		v.Add("must be a JSON object", "body", "payload")
	}
	return v.Err()
}

// Matches reports whether ep receives m: it is enabled, its event type
// filter is empty or names m's type, and its channels are empty or share
// one with m. The payload filter (Filter) is not evaluated here: the
// Publisher evaluates it (package filter) for the endpoints that match.
func (ep *Endpoint) Matches(m *Message) bool {
	if ep.Disabled {
		return false
	}
	if len(ep.FilterTypes) > 0 && !slices.Contains(ep.FilterTypes, m.EventType) {
		return false
	}
	if len(ep.Channels) > 0 && !slices.ContainsFunc(m.Channels, func(c string) bool { return slices.Contains(ep.Channels, c) }) {
		return false
	}
	return true
}

// MessageStatus is the contract's delivery status.
type MessageStatus int

// Delivery statuses, numbered as in the contract.
const (
	StatusSuccess MessageStatus = 0
	StatusPending MessageStatus = 1 // not attempted yet
	StatusFail    MessageStatus = 2 // dead letter: out of attempts
	StatusSending MessageStatus = 3 // failed at least once, retry scheduled
	// StatusCanceled: cancelled before it was delivered (cancel-msgs);
	// nothing is scheduled, and recover, bulk replay and resend can still
	// send it.
	StatusCanceled MessageStatus = 4
)

// String returns the contract's statusText.
func (s MessageStatus) String() string {
	switch s {
	case StatusSuccess:
		return "success"
	case StatusPending:
		return "pending"
	case StatusFail:
		return "fail"
	case StatusSending:
		return "sending"
	case StatusCanceled:
		return "canceled"
	}
	return "unknown"
}

// ParseMessageStatus parses the numeric form used in query strings.
func ParseMessageStatus(s string) (MessageStatus, bool) {
	switch s {
	case "0":
		return StatusSuccess, true
	case "1":
		return StatusPending, true
	case "2":
		return StatusFail, true
	case "3":
		return StatusSending, true
	case "4":
		return StatusCanceled, true
	}
	return 0, false
}

// TriggerType says why an attempt was made.
type TriggerType int

// Trigger types, numbered as in the contract.
const (
	TriggerScheduled TriggerType = 0
	TriggerManual    TriggerType = 1
)

// Delivery is the state of one message towards one endpoint.
type Delivery struct {
	ID         string
	OrgID      string
	AppID      string
	MessageID  string
	EndpointID string
	Status     MessageStatus
	// Round counts recoveries: each starts the retry schedule anew.
	Round int
	// RoundAttempts is how many scheduled attempts this round made.
	RoundAttempts int
	// NextAttemptAt is when the next scheduled attempt is due; nil once
	// the delivery succeeded or failed for good, and while it is held.
	NextAttemptAt *time.Time
	// OrderingKey is the ordering key the delivery is ordered in, if any
	// ("" for an endpoint that orders all its messages).
	OrderingKey *string
	// Held is set while an earlier delivery of its ordering key is not done:
	// the delivery is pending, with nothing scheduled.
	Held bool
	// Reason says why a cancelled delivery (StatusCanceled) was not made,
	// for example "filtered out: no such key: amount" or "cancelled by
	// transformation"; "" when it has none.
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Attempt is one HTTP request made for a delivery, as recorded.
type Attempt struct {
	ID           string
	DeliveryID   string
	OrgID        string
	AppID        string
	MessageID    string
	EndpointID   string
	URL          string
	Status       MessageStatus // StatusSuccess or StatusFail
	StatusCode   int           // 0 when no response arrived
	Response     string        // body, capped; or why no response arrived
	DurationMs   int64
	TriggerType  TriggerType
	CreatedAt    time.Time
	MessageEvent string   // the message's event type, for filters
	Channels     []string // the message's channels, for filters
}

// MessageFilter narrows message, attempt and delivery lists. Zero fields
// do not filter.
type MessageFilter struct {
	Channel    string
	EventTypes []string
	// Tag keeps messages carrying this tag (message lists and search).
	Tag string
	// EventIDPrefix keeps messages whose eventId starts with it (message
	// lists and search, a hookd extension).
	EventIDPrefix string
	// Before and After bound the creation time of the message (or attempt).
	Before, After *time.Time
	// Status keeps deliveries (or attempts) of that status; on message
	// lists, messages whose Status (the worst of their deliveries) is it.
	Status *MessageStatus
	// StatusCodeClass keeps attempts whose response code is in [c, c+100);
	// 0 keeps those without a response.
	StatusCodeClass *int
	// EndpointID keeps attempts of one endpoint (attempts by message).
	EndpointID string
	// OmitPayload leaves message payloads out (with_content=false): not a
	// filter, it saves reading them.
	OmitPayload bool
}

// EndpointMessage is a message as attempted towards one endpoint.
type EndpointMessage struct {
	Message  Message
	Delivery Delivery
	// WaitingFor is what a held delivery waits for.
	WaitingFor *Blocker
}

// MessageEndpoint is an endpoint a message was attempted towards.
type MessageEndpoint struct {
	Endpoint Endpoint
	Delivery Delivery
	// WaitingFor is what a held delivery waits for.
	WaitingFor *Blocker
}

// Blocker is the delivery a held delivery waits for: the head of its
// ordering key, the one delivery of the key that may be attempted.
type Blocker struct {
	MessageID string
	Status    MessageStatus
	// Attempts is how many scheduled attempts the head made in its round.
	Attempts int
	// LastStatusCode is the response status of its last attempt (0: none
	// or no response).
	LastStatusCode int
	NextAttemptAt  *time.Time
	// Since is when it became the head.
	Since time.Time
}

// MessageStore persists messages and their deliveries, scoped to one application.
type MessageStore interface {
	// CreateMessage inserts msg and one pending delivery per endpoint of its
	// application that matches it (only to onlyEndpoint when that is set), in
	// one transaction, and returns the deliveries. A taken eventId is ECONFLICT.
	CreateMessage(ctx context.Context, msg *Message, onlyEndpoint string) ([]Delivery, error)
	// FindMessage returns the message of app whose id or eventId is idOrEventID.
	FindMessage(ctx context.Context, app *Application, idOrEventID string) (*Message, error)
	// ListMessages pages through app's messages, newest first by default,
	// filtered by f: channel, tag, event types, eventId prefix, creation
	// time, and status (StatusCounts.Worst of the message's deliveries).
	ListMessages(ctx context.Context, app *Application, f MessageFilter, opt ListOptions) (Page[Message], error)
	// CountDeliveries counts the deliveries of each message by status; a
	// message without deliveries is missing from the map.
	CountDeliveries(ctx context.Context, msgIDs []string) (map[string]StatusCounts, error)
	// ExpungeMessage deletes the message's payload for good.
	ExpungeMessage(ctx context.Context, msg *Message) error
	// ListAttempts pages through attempts of an endpoint (ep set) or of a
	// message (msg set), newest first.
	ListAttempts(ctx context.Context, app *Application, ep *Endpoint, msg *Message, f MessageFilter, opt ListOptions) (Page[Attempt], error)
	// FindAttempt returns one attempt of msg.
	FindAttempt(ctx context.Context, msg *Message, attemptID string) (*Attempt, error)
	// ExpungeAttempt deletes the attempt's response body for good.
	ExpungeAttempt(ctx context.Context, a *Attempt) error
	// ListEndpointMessages pages through the messages attempted towards ep.
	ListEndpointMessages(ctx context.Context, ep *Endpoint, f MessageFilter, opt ListOptions) (Page[EndpointMessage], error)
	// ListMessageEndpoints pages through the endpoints msg was attempted towards.
	ListMessageEndpoints(ctx context.Context, msg *Message, opt ListOptions) (Page[MessageEndpoint], error)
	// EnsureDelivery returns the delivery of msg to ep, creating a finished
	// one (status fail, nothing scheduled) for a manual resend if none exists.
	EnsureDelivery(ctx context.Context, msg *Message, ep *Endpoint) (*Delivery, error)
	// RecoverDeliveries restarts, in a new round, the retry schedule of up
	// to limit failed or cancelled deliveries of the endpoint endpointID whose message
	// was created in [since, until) and whose message id is above after
	// ("": from the start), lowest message ids first, and returns them. A
	// batch of fewer than limit is the last.
	RecoverDeliveries(ctx context.Context, endpointID string, since, until time.Time, after string, limit int) ([]Delivery, error)
}

// FilterVerdicts are the outcomes of the payload filters (Endpoint.Filter)
// a publisher evaluated for one message, for the store to decide its
// deliveries: an endpoint whose filter is in neither list (false, or not
// evaluated) gets no delivery.
type FilterVerdicts struct {
	// Passed are the endpoints whose filter matched.
	Passed []string
	// Failed are the endpoints whose filter could not be evaluated: each
	// gets a cancelled delivery (StatusCanceled) carrying the reason.
	Failed []FilterFailure
}

// FilterFailure is an endpoint whose filter failed to evaluate.
type FilterFailure struct {
	EndpointID string
	// Reason is the delivery's Reason: "filtered out: " and the evaluation
	// error, e.g. "filtered out: no such key: amount".
	Reason string
}

// ReasonFilteredOut prefixes the Reason of a delivery whose endpoint's
// payload filter failed to evaluate.
const ReasonFilteredOut = "filtered out: "
