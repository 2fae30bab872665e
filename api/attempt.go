package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/webhook"
)

type attemptOut struct {
	ID                 string      `json:"id"`
	MsgID              string      `json:"msgId"`
	EndpointID         string      `json:"endpointId"`
	URL                string      `json:"url"`
	Response           string      `json:"response"`
	ResponseStatusCode int         `json:"responseStatusCode"`
	ResponseDurationMs int64       `json:"responseDurationMs"`
	Status             int         `json:"status"`
	StatusText         string      `json:"statusText"`
	TriggerType        int         `json:"triggerType"`
	Timestamp          time.Time   `json:"timestamp"`
	Msg                *messageOut `json:"msg,omitempty"`
}

func attemptOutOf(a *webhook.Attempt, withContent bool) attemptOut {
	out := attemptOut{
		ID: a.ID, MsgID: a.MessageID, EndpointID: a.EndpointID, URL: egress.MaskUserinfo(a.URL), Response: a.Response,
		ResponseStatusCode: a.StatusCode, ResponseDurationMs: a.DurationMs,
		Status: int(a.Status), StatusText: a.Status.String(), TriggerType: int(a.TriggerType),
		Timestamp: a.CreatedAt,
	}
	if !withContent {
		out.Response = ""
	}
	return out
}

// endpointMessageOut is the contract's EndpointMessageOut.
type endpointMessageOut struct {
	messageOut
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	NextAttempt *time.Time `json:"nextAttempt"`
	// WaitingFor is a hookd extension, set while the delivery is held
	// behind an earlier message of its ordering key.
	WaitingFor *waitingForOut `json:"waitingFor,omitempty"`
	// Reason is a hookd extension: why a cancelled delivery was not made
	// ("filtered out: no such key: amount", "cancelled by transformation").
	Reason string `json:"reason,omitempty"`
}

// waitingForOut is what a held delivery waits for (a hookd extension):
// the head of its ordering key, e.g. "waiting for msg_… (attempt 3
// failed with 500, next at …)".
type waitingForOut struct {
	OrderingKey    string     `json:"orderingKey"`
	MsgID          string     `json:"msgId"`
	Status         int        `json:"status"`
	StatusText     string     `json:"statusText"`
	Attempts       int        `json:"attempts"`
	LastStatusCode int        `json:"lastStatusCode"`
	NextAttempt    *time.Time `json:"nextAttempt"`
	Since          time.Time  `json:"since"`
	Text           string     `json:"text"`
}

func waitingForOf(d *webhook.Delivery, b *webhook.Blocker) *waitingForOut {
	if b == nil || d.OrderingKey == nil {
		return nil
	}
	text := "waiting for " + b.MessageID
	switch {
	case b.Attempts > 0 && b.NextAttemptAt != nil:
		text += fmt.Sprintf(" (attempt %d failed", b.Attempts)
		if b.LastStatusCode != 0 {
			text += fmt.Sprintf(" with %d", b.LastStatusCode)
		}
		text += ", next at " + b.NextAttemptAt.UTC().Format(time.RFC3339) + ")"
	case b.NextAttemptAt != nil:
		text += " (first attempt due)"
	}
	return &waitingForOut{
		OrderingKey: *d.OrderingKey, MsgID: b.MessageID, Status: int(b.Status), StatusText: b.Status.String(),
		Attempts: b.Attempts, LastStatusCode: b.LastStatusCode, NextAttempt: b.NextAttemptAt, Since: b.Since, Text: text,
	}
}

// messageEndpointOut is the contract's MessageEndpointOut.
type messageEndpointOut struct {
	endpointOut
	Status      int            `json:"status"`
	StatusText  string         `json:"statusText"`
	NextAttempt *time.Time     `json:"nextAttempt"`
	WaitingFor  *waitingForOut `json:"waitingFor,omitempty"` // hookd extension
	Reason      string         `json:"reason,omitempty"`     // hookd extension, as in endpointMessageOut
}

// recoverIn is the contract's RecoverIn. The times are parsed by hand so
// that a malformed one is a 422 naming the field, not a 400.
type recoverIn struct {
	Since *string `json:"since"`
	Until *string `json:"until"`
}

// bodyTime parses the RFC 3339 date-time s of body field name; nil gives nil.
func bodyTime(v *webhook.ValidationError, s *string, name string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		v.Add("must be an RFC 3339 date-time", "body", name)
		return nil
	}
	return &t
}

type recoverOut struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Task      string    `json:"task"`
	UpdatedAt time.Time `json:"updatedAt"`
}

type eventExampleIn struct {
	EventType    *string `json:"eventType"`
	ExampleIndex int     `json:"exampleIndex"`
}

// listAttempts serves attempts by endpoint and by message.
func (s *Server) listAttempts(c *gin.Context) {
	opt, f, withContent, err := messageListQuery(c, webhook.PrefixAttempt)
	if err != nil {
		fail(c, err)
		return
	}
	app := pathApp(c)
	var ep *webhook.Endpoint
	var msg *webhook.Message
	if id := c.Param("endpoint_id"); id != "" {
		if ep, err = s.cfg.Store.FindEndpoint(c.Request.Context(), app, id); err != nil {
			fail(c, err)
			return
		}
	}
	if id := c.Param("msg_id"); id != "" {
		if msg, err = s.cfg.Store.FindMessage(c.Request.Context(), app, id); err != nil {
			fail(c, err)
			return
		}
	}
	if f.EndpointID != "" {
		filterEp, err := s.cfg.Store.FindEndpoint(c.Request.Context(), app, f.EndpointID)
		if webhook.ErrorCode(err) == webhook.ENOTFOUND {
			c.PureJSON(http.StatusOK, listResponse[attemptOut]{Data: []attemptOut{}, Done: true})
			return
		}
		if err != nil {
			fail(c, err)
			return
		}
		f.EndpointID = filterEp.ID
	}
	page, err := s.cfg.Store.ListAttempts(c.Request.Context(), app, ep, msg, f, opt)
	if err != nil {
		fail(c, err)
		return
	}
	out := func(a *webhook.Attempt) attemptOut { return attemptOutOf(a, withContent) }
	c.PureJSON(http.StatusOK, newList(page, opt, out, func(a *webhook.Attempt) string { return a.ID }))
}

func (s *Server) getAttempt(c *gin.Context) {
	a, err := s.cfg.Store.FindAttempt(c.Request.Context(), pathMessage(c), c.Param("attempt_id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, attemptOutOf(a, true))
}

func (s *Server) expungeAttempt(c *gin.Context) {
	a, err := s.cfg.Store.FindAttempt(c.Request.Context(), pathMessage(c), c.Param("attempt_id"))
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.cfg.Store.ExpungeAttempt(c.Request.Context(), a); err != nil {
		fail(c, err)
		return
	}
	noContent(c)
}

// listEndpointMessages lists the messages attempted towards the endpoint.
func (s *Server) listEndpointMessages(c *gin.Context) {
	opt, f, withContent, err := messageListQuery(c, webhook.PrefixMessage)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := s.cfg.Store.ListEndpointMessages(c.Request.Context(), pathEndpoint(c), f, opt)
	if err != nil {
		fail(c, err)
		return
	}
	out := func(em *webhook.EndpointMessage) endpointMessageOut {
		return endpointMessageOut{
			messageOut: messageOutOf(&em.Message, withContent),
			Status:     int(em.Delivery.Status), StatusText: em.Delivery.Status.String(),
			NextAttempt: em.Delivery.NextAttemptAt, WaitingFor: waitingForOf(&em.Delivery, em.WaitingFor),
			Reason: reasonOf(&em.Delivery),
		}
	}
	c.PureJSON(http.StatusOK, newList(page, opt, out, func(em *webhook.EndpointMessage) string { return em.Message.ID }))
}

// listMessageEndpoints lists the endpoints the message was attempted towards.
func (s *Server) listMessageEndpoints(c *gin.Context) {
	opt, err := listOptions(c, true, validIDCursor(webhook.PrefixEndpoint))
	if err != nil {
		fail(c, err)
		return
	}
	page, err := s.cfg.Store.ListMessageEndpoints(c.Request.Context(), pathMessage(c), opt)
	if err != nil {
		fail(c, err)
		return
	}
	out := func(me *webhook.MessageEndpoint) messageEndpointOut {
		return messageEndpointOut{
			endpointOut: endpointOutOf(&me.Endpoint),
			Status:      int(me.Delivery.Status), StatusText: me.Delivery.Status.String(),
			NextAttempt: me.Delivery.NextAttemptAt, WaitingFor: waitingForOf(&me.Delivery, me.WaitingFor),
			Reason: reasonOf(&me.Delivery),
		}
	}
	c.PureJSON(http.StatusOK, newList(page, opt, out, func(me *webhook.MessageEndpoint) string { return me.Delivery.EndpointID }))
}

// resend makes one manual attempt of the message to the endpoint, whether
// its delivery failed, succeeded or never existed.
func (s *Server) resend(c *gin.Context) {
	msg := pathMessage(c)
	ep, err := s.cfg.Store.FindEndpoint(c.Request.Context(), pathApp(c), c.Param("endpoint_id"))
	if err != nil {
		fail(c, err)
		return
	}
	if msg.EventType != webhook.EventTypeVerification && refusePending(c, ep) {
		return
	}
	if err := s.cfg.Replayer.Resend(c.Request.Context(), msg, ep); err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusAccepted, struct{}{})
}

// recoverEndpoint starts a background task (endpoint.recover) that restarts
// the schedule of every failed delivery of the endpoint whose message was
// created in [since, until), and answers it, running, with 202. The task's
// progress and outcome are read at /api/v1/background-task/{task_id}.
func (s *Server) recoverEndpoint(c *gin.Context) {
	var in recoverIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	now := s.cfg.Now().UTC()
	v := &webhook.ValidationError{}
	required(v, in.Since != nil, "body", "since")
	since, until := bodyTime(v, in.Since, "since"), bodyTime(v, in.Until, "until")
	if since != nil && since.Before(now.Add(-s.cfg.RetentionPeriod)) {
		v.Add("must be within the retention period ("+s.cfg.RetentionPeriod.String()+")", "body", "since")
	}
	if until == nil {
		until = &now
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	if refusePending(c, pathEndpoint(c)) {
		return
	}
	ep := pathEndpoint(c)
	params := background.RecoverParams{EndpointID: ep.ID, Since: since.UTC(), Until: until.UTC()}
	task, err := webhook.NewBackgroundTask(ep.OrgID, ep.AppID, webhook.TaskEndpointRecover, params)
	if err == nil {
		err = s.cfg.Store.CreateBackgroundTask(c.Request.Context(), task)
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusAccepted, recoverOut{
		ID: task.ID, Status: string(task.Status), Task: string(task.Kind), UpdatedAt: task.UpdatedAt,
	})
}

// sendExample publishes an example message of an event type to this endpoint only.
func (s *Server) sendExample(c *gin.Context) {
	var in eventExampleIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	v := &webhook.ValidationError{}
	required(v, in.EventType != nil, "body", "eventType")
	if in.EventType != nil && !webhook.ValidName(*in.EventType) {
		v.Add(`must match ^[a-zA-Z0-9\-_.]+$`, "body", "eventType")
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	ep := pathEndpoint(c)
	if refusePending(c, ep) {
		return
	}
	payload := json.RawMessage(`{"type":"hookd.example","eventType":` + quote(*in.EventType) + `}`)
	et, err := s.visibleEventType(c, *in.EventType)
	switch {
	case webhook.ErrorCode(err) == webhook.ENOTFOUND:
		fail(c, webhook.Invalid("event type does not exist", "body", "eventType"))
		return
	case err != nil:
		fail(c, err)
		return
	}
	if ex, ok := schemaExample(et.Schemas, in.ExampleIndex); ok {
		payload = ex
	}
	msg := &webhook.Message{
		OrgID: ep.OrgID, AppID: ep.AppID, EventType: et.Name, Payload: payload,
		RetentionDays: webhook.DefaultRetentionDays,
	}
	if _, err := s.cfg.Publisher.Publish(c.Request.Context(), msg, ep.ID); err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, messageOutOf(msg, true))
}

// schemaExample returns examples[i] of the highest version's schema, when
// it is a JSON object.
func schemaExample(schemas json.RawMessage, i int) (json.RawMessage, bool) {
	var versions map[string]struct {
		Examples []json.RawMessage `json:"examples"`
	}
	if json.Unmarshal(schemas, &versions) != nil {
		return nil, false
	}
	best := ""
	for v := range versions {
		if len(v) > len(best) || (len(v) == len(best) && v > best) {
			best = v
		}
	}
	ex := versions[best].Examples
	if i < 0 || i >= len(ex) || len(ex[i]) == 0 || ex[i][0] != '{' {
		return nil, false
	}
	return ex[i], true
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// reasonOf is a delivery's reason as shown: only while it is cancelled.
func reasonOf(d *webhook.Delivery) string {
	if d.Status != webhook.StatusCanceled {
		return ""
	}
	return d.Reason
}
