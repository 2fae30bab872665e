package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

const messageKey = "hookd.message"

// messageIn is the contract's MessageIn.
type messageIn struct {
	EventType              *string         `json:"eventType"`
	Payload                json.RawMessage `json:"payload"`
	EventID                Opt[string]     `json:"eventId"`
	Channels               []string        `json:"channels"`
	Tags                   []string        `json:"tags"`
	Application            *applicationIn  `json:"application"`
	PayloadRetentionPeriod Opt[int]        `json:"payloadRetentionPeriod"`
	PayloadRetentionHours  Opt[int]        `json:"payloadRetentionHours"`
	DeliverAt              Opt[string]     `json:"deliverAt"`
	// OrderingKey is a hookd extension; a tag "ordering:<key>" sets it too.
	OrderingKey Opt[string] `json:"orderingKey"`
}

// messageOut is the contract's MessageOut. Answers that carry one are
// written with c.PureJSON: c.JSON escapes <, > and & inside the payload, which
// would then not read back as the bytes published.
type messageOut struct {
	ID        string          `json:"id"`
	EventType string          `json:"eventType"`
	EventID   *string         `json:"eventId"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels"`
	Tags      []string        `json:"tags,omitempty"`
	Timestamp time.Time       `json:"timestamp"`
	// OrderingKey is a hookd extension, absent for unordered messages.
	OrderingKey *string `json:"orderingKey,omitempty"`
}

// emptyPayload is what an expunged, expired or not requested payload reads as.
var emptyPayload = json.RawMessage("{}")

func messageOutOf(m *webhook.Message, withContent bool) messageOut {
	out := messageOut{
		ID: m.ID, EventType: m.EventType, EventID: m.EventID, Payload: m.Payload,
		Channels: m.Channels, Tags: m.Tags, Timestamp: m.CreatedAt, OrderingKey: m.OrderingKey,
	}
	if !withContent || len(out.Payload) == 0 {
		out.Payload = emptyPayload
	}
	return out
}

// message validates in into a Message kept for defaultDays unless in says
// otherwise; the caller sets its application.
func (in *messageIn) message(defaultDays int) (*webhook.Message, error) {
	v := &webhook.ValidationError{}
	required(v, in.EventType != nil, "body", "eventType")
	required(v, len(in.Payload) > 0 && string(in.Payload) != "null", "body", "payload")
	if in.DeliverAt.Set && !in.DeliverAt.Null {
		v.Add("scheduled delivery is not supported by hookd", "body", "deliverAt")
	}
	if in.EventType != nil && *in.EventType == webhook.EventTypeVerification {
		v.Add("is reserved for the challenges of endpoint verification", "body", "eventType")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var payload bytes.Buffer
	if err := json.Compact(&payload, in.Payload); err != nil {
		return nil, webhook.Invalid("must be a JSON object", "body", "payload")
	}
	key, err := webhook.OrderingKeyOf(in.OrderingKey.Ptr(), in.Tags)
	if err != nil {
		return nil, err
	}
	m := &webhook.Message{
		EventType: *in.EventType, EventID: in.EventID.Ptr(),
		Channels: in.Channels, Tags: in.Tags, Payload: payload.Bytes(),
		RetentionDays: defaultDays, OrderingKey: key,
	}
	switch {
	case in.PayloadRetentionPeriod.Set && !in.PayloadRetentionPeriod.Null:
		m.RetentionDays = in.PayloadRetentionPeriod.V
	case in.PayloadRetentionHours.Set && !in.PayloadRetentionHours.Null:
		hours := in.PayloadRetentionHours.V
		if hours < webhook.MinRetentionHours || hours > webhook.MaxRetentionHours {
			return nil, webhook.Invalid(fmt.Sprintf("must be between %d and %d",
				webhook.MinRetentionHours, webhook.MaxRetentionHours), "body", "payloadRetentionHours")
		}
		m.RetentionDays = max(webhook.MinRetentionDays, (hours+23)/24)
	}
	return m, m.Validate()
}

// retentionDays is the payload retention of a message that names none:
// period (HOOKD_RETENTION_PERIOD) in days, rounded up and clamped to the
// contract's 5 to 90.
func retentionDays(period time.Duration) int {
	days := period / (24 * time.Hour)
	if period%(24*time.Hour) != 0 {
		days++
	}
	return int(min(max(days, webhook.MinRetentionDays), webhook.MaxRetentionDays))
}

// findOrCreateApp finds the path's application or, when in is given,
// creates it with the path as its uid unless in names one. Publishing
// (cached) may find it in a one-second cache: it needs only the app's id.
func (s *Server) findOrCreateApp(c *gin.Context, in *applicationIn, cached bool) (*webhook.Application, error) {
	ctx := c.Request.Context()
	orgID, idOrUID := principal(c).OrgID, c.Param("app_id")
	find := s.cfg.Store.FindApp
	if cached {
		// A deleted app still fails the insert (404), and every other route
		// reads afresh.
		find = func(ctx context.Context, orgID, idOrUID string) (*webhook.Application, error) {
			app, err := s.apps.Load([2]string{orgID, idOrUID}, func() (webhook.Application, error) {
				app, err := s.cfg.Store.FindApp(ctx, orgID, idOrUID)
				if err != nil {
					return webhook.Application{}, err
				}
				return *app, nil
			})
			if err != nil {
				return nil, err
			}
			return &app, nil
		}
	}
	app, err := find(ctx, orgID, idOrUID)
	if webhook.ErrorCode(err) != webhook.ENOTFOUND || in == nil {
		return app, err
	}
	app = &webhook.Application{OrgID: orgID}
	if err := in.apply(app); err != nil {
		return nil, prefixLoc(err, "application")
	}
	if app.UID == nil {
		app.UID = &idOrUID
		if err := app.Validate(); err != nil {
			return nil, err
		}
	}
	err = s.cfg.Store.CreateApp(ctx, app)
	if webhook.ErrorCode(err) == webhook.ECONFLICT {
		return s.cfg.Store.FindApp(ctx, orgID, idOrUID) // created concurrently
	}
	return app, err
}

// prefixLoc nests a validation error's body locations under field.
func prefixLoc(err error, field string) error {
	v, ok := asValidation(err)
	if !ok {
		return err
	}
	for i, f := range v.Fields {
		if len(f.Loc) > 0 && f.Loc[0] == "body" {
			v.Fields[i].Loc = append([]string{"body", field}, f.Loc[1:]...)
		}
	}
	return v
}

// createMessage publishes the message (delivery.Publisher) and answers 202
// once it is stored with its deliveries.
func (s *Server) createMessage(c *gin.Context) {
	v := &webhook.ValidationError{}
	withContent := queryBool(c, "with_content", true, v)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	var in messageIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	// Validated before the application is looked up (Publish checks it
	// again, cheaply), so that an invalid message is refused first and never
	// creates the application it names.
	msg, err := in.message(retentionDays(s.cfg.RetentionPeriod))
	if err != nil {
		fail(c, err)
		return
	}
	if in.Application != nil {
		// The application may be created: refuse a payload its event
		// type's schema refuses first (Publish checks it otherwise).
		msg.OrgID = principal(c).OrgID
		if err := s.cfg.Publisher.Check(c.Request.Context(), msg); err != nil {
			fail(c, err)
			return
		}
	}
	app, err := s.findOrCreateApp(c, in.Application, true)
	if err != nil {
		fail(c, err)
		return
	}
	msg.OrgID, msg.AppID = app.OrgID, app.ID
	if _, err := s.cfg.Publisher.Publish(c.Request.Context(), msg, ""); err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusAccepted, messageOutOf(msg, withContent))
}

// withMessage loads the path's message (by id or eventId) for handler h.
func (s *Server) withMessage(h gin.HandlerFunc) gin.HandlerFunc {
	return s.withApp(func(c *gin.Context) {
		msg, err := s.cfg.Store.FindMessage(c.Request.Context(), pathApp(c), c.Param("msg_id"))
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(messageKey, msg)
		h(c)
	})
}

func pathMessage(c *gin.Context) *webhook.Message {
	return c.MustGet(messageKey).(*webhook.Message)
}

// getMessage answers one message, with its status (a hookd extension).
func (s *Server) getMessage(c *gin.Context) {
	v := &webhook.ValidationError{}
	withContent := queryBool(c, "with_content", true, v)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	msg := pathMessage(c)
	counts, err := s.cfg.Store.CountDeliveries(c.Request.Context(), []string{msg.ID})
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, messageStatusOutOf(msg, counts[msg.ID], withContent))
}

// listMessages lists the application's messages, newest first, each with
// its status; status, tag and event_id (a prefix) filter besides the
// contract's filters.
func (s *Server) listMessages(c *gin.Context) {
	opt, f, withContent, err := messageListQuery(c, webhook.PrefixMessage)
	if err == nil {
		err = messageListExtras(c, &f)
	}
	if err != nil {
		fail(c, err)
		return
	}
	f.OmitPayload = !withContent
	page, err := s.cfg.Store.ListMessages(c.Request.Context(), pathApp(c), f, opt)
	if err != nil {
		fail(c, err)
		return
	}
	s.answerMessages(c, page, opt, withContent)
}

// messageListQuery parses the paging and the filters of the message and
// attempt lists (newest first by default; cursors are ids with prefix).
func messageListQuery(c *gin.Context, prefix string) (webhook.ListOptions, webhook.MessageFilter, bool, error) {
	opt, err := listOptions(c, false, validIDCursor(prefix))
	if err != nil {
		return opt, webhook.MessageFilter{}, false, err
	}
	f, withContent, err := messageFilter(c)
	return opt, f, withContent, err
}

// messageFilter parses the list filters shared by messages and attempts:
// channel, event_types (repeated or comma-separated), before, after, status,
// status_code_class, endpoint_id and with_content.
func messageFilter(c *gin.Context) (webhook.MessageFilter, bool, error) {
	v := &webhook.ValidationError{}
	var f webhook.MessageFilter
	f.Channel = c.Query("channel")
	if f.Channel != "" && (!webhook.ValidName(f.Channel) || len(f.Channel) > webhook.MaxChannelLength) {
		v.Add("must match ^[a-zA-Z0-9\\-_.]+$ and be at most 128 characters", "query", "channel")
	}
	for _, raw := range append(c.QueryArray("event_types"), c.QueryArray("event_types[]")...) {
		for _, name := range strings.Split(raw, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if !webhook.ValidName(name) || len(name) > webhook.MaxEventTypeLength {
				v.Add("must be event type names", "query", "event_types")
				continue
			}
			f.EventTypes = append(f.EventTypes, name)
		}
	}
	if t := queryTime(c, "before", time.Time{}, v); !t.IsZero() {
		f.Before = &t
	}
	if t := queryTime(c, "after", time.Time{}, v); !t.IsZero() {
		f.After = &t
	}
	if s := c.Query("status"); s != "" {
		st, ok := webhook.ParseMessageStatus(s)
		if !ok {
			v.Add(statusChoices, "query", "status")
		}
		f.Status = &st
	}
	if s := c.Query("status_code_class"); s != "" {
		switch s {
		case "0", "100", "200", "300", "400", "500":
			n := int(s[0]-'0') * 100
			f.StatusCodeClass = &n
		default:
			v.Add("must be 0, 100, 200, 300, 400 or 500", "query", "status_code_class")
		}
	}
	f.EndpointID = c.Query("endpoint_id")
	withContent := queryBool(c, "with_content", true, v)
	return f, withContent, v.Err()
}

// expungeMessage deletes the message's payload for good.
func (s *Server) expungeMessage(c *gin.Context) {
	if err := s.cfg.Store.ExpungeMessage(c.Request.Context(), pathMessage(c)); err != nil {
		fail(c, err)
		return
	}
	noContent(c)
}
