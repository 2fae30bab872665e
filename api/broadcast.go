package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/webhook"
)

// messageBroadcastIn is the contract's MessageBroadcastIn.
type messageBroadcastIn struct {
	EventType              *string         `json:"eventType"`
	Payload                json.RawMessage `json:"payload"`
	EventID                Opt[string]     `json:"eventId"`
	Channels               []string        `json:"channels"`
	PayloadRetentionPeriod Opt[int]        `json:"payloadRetentionPeriod"`
	PayloadRetentionHours  Opt[int]        `json:"payloadRetentionHours"`
}

// broadcast starts a message.broadcast task: the message is published to
// every application of the organisation with an endpoint it goes to, each
// copy with the same eventId (the one given, or the task's id), which
// makes it idempotent per application. It answers the task, running, with
// 202. It acts on the organisation: app-portal tokens get 403.
func (s *Server) broadcast(c *gin.Context) {
	var in messageBroadcastIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	// The rules of a message's: the same fields, validated the same way.
	asMessage := messageIn{
		EventType: in.EventType, Payload: in.Payload, EventID: in.EventID, Channels: in.Channels,
		PayloadRetentionPeriod: in.PayloadRetentionPeriod, PayloadRetentionHours: in.PayloadRetentionHours,
	}
	msg, err := asMessage.message(retentionDays(s.cfg.RetentionPeriod))
	if err != nil {
		fail(c, err)
		return
	}
	p := principal(c)
	params := background.BroadcastParams{
		EventType: msg.EventType, Payload: string(msg.Payload), Channels: msg.Channels, RetentionDays: msg.RetentionDays,
	}
	task, err := webhook.NewBackgroundTask(p.OrgID, "", webhook.TaskMessageBroadcast, params)
	if err == nil {
		params.EventID = task.ID
		if msg.EventID != nil {
			params.EventID = *msg.EventID
		}
		task.Params, err = json.Marshal(params)
	}
	if err == nil {
		err = s.cfg.Store.CreateBackgroundTask(c.Request.Context(), task)
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusAccepted, taskOutOf(task))
}
