package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// messageStatusOut is a message of a list or search with its status (hookd
// extensions): the worst status of its deliveries (webhook.WorstFirst),
// null when it went to no endpoint, and its deliveries counted by status.
type messageStatusOut struct {
	messageOut
	Status       *int            `json:"status"`
	StatusText   *string         `json:"statusText"`
	StatusCounts statusCountsOut `json:"statusCounts"`
}

// statusCountsOut counts a message's deliveries by status.
type statusCountsOut struct {
	Success  int `json:"success"`
	Pending  int `json:"pending"`
	Fail     int `json:"fail"`
	Sending  int `json:"sending"`
	Canceled int `json:"canceled"`
}

func messageStatusOutOf(m *webhook.Message, counts webhook.StatusCounts, withContent bool) messageStatusOut {
	out := messageStatusOut{
		messageOut: messageOutOf(m, withContent),
		StatusCounts: statusCountsOut{Success: counts.Success, Pending: counts.Pending, Fail: counts.Fail,
			Sending: counts.Sending, Canceled: counts.Canceled},
	}
	if s, ok := counts.Worst(); ok {
		n, text := int(s), s.String()
		out.Status, out.StatusText = &n, &text
	}
	return out
}

// answerMessages answers a page of messages with their statuses.
func (s *Server) answerMessages(c *gin.Context, page webhook.Page[webhook.Message], opt webhook.ListOptions, withContent bool) {
	counts, err := s.statusCounts(c.Request.Context(), page.Items)
	if err != nil {
		fail(c, err)
		return
	}
	out := func(m *webhook.Message) messageStatusOut { return messageStatusOutOf(m, counts[m.ID], withContent) }
	c.PureJSON(http.StatusOK, newList(page, opt, out, func(m *webhook.Message) string { return m.ID }))
}

// statusCounts counts the deliveries of msgs by status, in one query.
func (s *Server) statusCounts(ctx context.Context, msgs []webhook.Message) (map[string]webhook.StatusCounts, error) {
	ids := make([]string, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].ID
	}
	return s.cfg.Store.CountDeliveries(ctx, ids)
}

// messageSearchIn is the contract's MessageSearchIn, with the filters of
// the message list that are hookd's: status, event_id (a prefix) and order.
type messageSearchIn struct {
	Limit       *int     `json:"limit"`
	Iterator    *string  `json:"iterator"`
	Channel     *string  `json:"channel"`
	Before      *string  `json:"before"`
	After       *string  `json:"after"`
	WithContent *bool    `json:"with_content"`
	Tag         *string  `json:"tag"`
	EventTypes  []string `json:"event_types"`
	Status      *int     `json:"status"`
	EventID     *string  `json:"event_id"`
	Order       *string  `json:"order"`
}

// searchMessages serves POST /app/{app}/msg/search: the message list's
// filters in a body, payloads left out unless with_content is true.
func (s *Server) searchMessages(c *gin.Context) {
	var in messageSearchIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	v := &webhook.ValidationError{}
	opt := webhook.ListOptions{Limit: webhook.DefaultLimit}
	if in.Limit != nil {
		if *in.Limit < 1 {
			v.Add("must be at least 1", "body", "limit")
		}
		opt.Limit = min(max(*in.Limit, 1), webhook.MaxLimit)
	}
	if in.Order != nil {
		switch *in.Order {
		case "ascending":
			opt.Ascending = true
		case "descending":
		default:
			v.Add("must be ascending or descending", "body", "order")
		}
	}
	if in.Iterator != nil && *in.Iterator != "" {
		cursor, back := parseIterator(*in.Iterator)
		if !webhook.ValidID(webhook.PrefixMessage, cursor) {
			v.Add("malformed iterator", "body", "iterator")
		}
		opt.Cursor, opt.Backward = cursor, back
	}
	f := webhook.MessageFilter{OmitPayload: in.WithContent == nil || !*in.WithContent}
	if in.Channel != nil {
		if !validChannel(*in.Channel) {
			v.Add("must match ^[a-zA-Z0-9\\-_.]+$ and be at most 128 characters", "body", "channel")
		}
		f.Channel = *in.Channel
	}
	if in.Tag != nil {
		if !webhook.ValidTag(*in.Tag) {
			v.Add(`must match ^[a-zA-Z0-9\-_./\\#]+$ and be at most 128 characters`, "body", "tag")
		}
		f.Tag = *in.Tag
	}
	if in.EventTypes != nil {
		checkNames(v, in.EventTypes, "body", "event_types")
		f.EventTypes = in.EventTypes
	}
	if t := bodyTime(v, in.Before, "before"); t != nil {
		f.Before = t
	}
	if t := bodyTime(v, in.After, "after"); t != nil {
		f.After = t
	}
	if in.Status != nil {
		st, ok := webhook.ParseMessageStatus(strconv.Itoa(*in.Status))
		if !ok {
			v.Add(statusChoices, "body", "status")
		}
		f.Status = &st
	}
	if in.EventID != nil {
		f.EventIDPrefix = *in.EventID
		checkEventIDPrefix(v, f.EventIDPrefix, "body", "event_id")
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	page, err := s.cfg.Store.ListMessages(c.Request.Context(), pathApp(c), f, opt)
	if err != nil {
		fail(c, err)
		return
	}
	s.answerMessages(c, page, opt, !f.OmitPayload)
}

// statusChoices is the message of a status that is not one.
const statusChoices = "must be 0 (success), 1 (pending), 2 (fail), 3 (sending) or 4 (canceled)"

// checkEventIDPrefix validates an eventId prefix filter: the start of an
// eventId.
func checkEventIDPrefix(v *webhook.ValidationError, p string, loc ...string) {
	if p == "" || len(p) > webhook.MaxUIDLength || !webhook.ValidName(p) {
		v.Add("must be the start of an eventId: ^[a-zA-Z0-9\\-_.]+$, at most 256 characters", loc...)
	}
}

// messageListExtras parses the message list's filters that the attempt
// lists do not have: tag, and event_id (a prefix, a hookd extension).
func messageListExtras(c *gin.Context, f *webhook.MessageFilter) error {
	v := &webhook.ValidationError{}
	if tag := c.Query("tag"); tag != "" {
		if !webhook.ValidTag(tag) {
			v.Add(`must match ^[a-zA-Z0-9\-_./\\#]+$ and be at most 128 characters`, "query", "tag")
		}
		f.Tag = tag
	}
	if p, ok := c.GetQuery("event_id"); ok {
		f.EventIDPrefix = strings.TrimSpace(p)
		checkEventIDPrefix(v, f.EventIDPrefix, "query", "event_id")
	}
	return v.Err()
}
