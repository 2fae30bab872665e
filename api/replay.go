package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/webhook"
)

// bulkReplayIn is the contract's BulkReplayIn.
type bulkReplayIn struct {
	Since           *string  `json:"since"`
	Until           *string  `json:"until"`
	EventTypes      []string `json:"eventTypes"`
	Channel         *string  `json:"channel"`
	Tag             *string  `json:"tag"`
	Status          *int     `json:"status"`
	StatusCodeClass *int     `json:"statusCodeClass"`
}

// replayIn is the contract's ReplayIn.
type replayIn struct {
	Since *string `json:"since"`
	Until *string `json:"until"`
}

// cancelMsgsIn is the contract's CancelMsgsIn.
type cancelMsgsIn struct {
	CreatedBefore *string `json:"createdBefore"`
}

// taskOut is the contract's ReplayOut, RecoverOut and MessageBroadcastOut:
// a background task just started.
type taskOut = recoverOut

func taskOutOf(t *webhook.BackgroundTask) taskOut {
	return taskOut{ID: t.ID, Status: string(t.Status), Task: string(t.Kind), UpdatedAt: t.UpdatedAt}
}

// replayPreviewOut answers a replay with ?dryRun=true (a hookd extension):
// how many messages it would send, and the first of them.
type replayPreviewOut struct {
	DryRun bool     `json:"dryRun"`
	Count  int      `json:"count"`
	MsgIDs []string `json:"msgIds"`
}

// previewLimit is how many message ids a dry run names.
const previewLimit = 20

// replayWindow validates a replay's since (required, within the retention
// period) and until (default now, after since) into v.
func (s *Server) replayWindow(v *webhook.ValidationError, since, until *string) (time.Time, time.Time) {
	now := s.cfg.Now().UTC()
	required(v, since != nil, "body", "since")
	from, to := bodyTime(v, since, "since"), bodyTime(v, until, "until")
	if from != nil && from.Before(now.Add(-s.cfg.RetentionPeriod)) {
		v.Add("must be within the retention period ("+s.cfg.RetentionPeriod.String()+")", "body", "since")
	}
	if to == nil {
		to = &now
	}
	if from == nil {
		return time.Time{}, to.UTC()
	}
	if !to.After(*from) {
		v.Add("must be after since", "body", "until")
	}
	return from.UTC(), to.UTC()
}

// checkReplayable refuses a replay to a disabled endpoint: its attempts
// would all fail at once ("not attempted: the endpoint is disabled").
func checkReplayable(ep *webhook.Endpoint) error {
	if ep.Disabled {
		return webhook.Errorf(webhook.ECONFLICT, "the endpoint is disabled: enable it before replaying to it")
	}
	return nil
}

// bulkReplay starts an endpoint.bulk-replay task: every delivery of the
// endpoint whose message was created in [since, until) and matches the
// filter is sent again, with the whole retry schedule (docs/delivery.md,
// "Replay"). ?dryRun=true answers what it would send instead.
func (s *Server) bulkReplay(c *gin.Context) {
	var in bulkReplayIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	v := &webhook.ValidationError{}
	dryRun := queryBool(c, "dryRun", false, v)
	since, until := s.replayWindow(v, in.Since, in.Until)
	params := background.ReplayParams{Since: since, Until: until, EventTypes: in.EventTypes, Status: in.Status, StatusCodeClass: in.StatusCodeClass}
	if in.EventTypes != nil {
		checkNames(v, in.EventTypes, "body", "eventTypes")
	}
	if in.Channel != nil {
		if !validChannel(*in.Channel) {
			v.Add("must match ^[a-zA-Z0-9\\-_.]+$ and be at most 128 characters", "body", "channel")
		}
		params.Channel = *in.Channel
	}
	if in.Tag != nil {
		if !webhook.ValidTag(*in.Tag) {
			v.Add(`must match ^[a-zA-Z0-9\-_./\\#]+$ and be at most 128 characters`, "body", "tag")
		}
		params.Tag = *in.Tag
	}
	if in.Status != nil {
		if _, ok := webhook.ParseMessageStatus(strconv.Itoa(*in.Status)); !ok {
			v.Add(statusChoices, "body", "status")
		}
	}
	if in.StatusCodeClass != nil && !validCodeClass(*in.StatusCodeClass) {
		v.Add("must be 0, 100, 200, 300, 400 or 500", "body", "statusCodeClass")
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	ep := pathEndpoint(c)
	params.EndpointID = ep.ID
	if dryRun {
		b := webhook.ReplayBatch{AppID: ep.AppID, EndpointID: ep.ID, Since: since, Until: until, Filter: params.Filter()}
		p, err := s.cfg.Store.PreviewBulkReplay(c.Request.Context(), b, previewLimit)
		s.answerPreview(c, p, err)
		return
	}
	s.startTask(c, ep, webhook.TaskEndpointBulkReplay, params)
}

// replayMissing starts an endpoint.replay task: every message created in
// [since, until) that the endpoint never received (published while it was
// disabled, or before it existed) and that matches its filters is sent to
// it, as if it had been published to it. ?dryRun=true answers what it
// would send instead.
func (s *Server) replayMissing(c *gin.Context) {
	var in replayIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	v := &webhook.ValidationError{}
	dryRun := queryBool(c, "dryRun", false, v)
	since, until := s.replayWindow(v, in.Since, in.Until)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	ep := pathEndpoint(c)
	if dryRun {
		b := webhook.ReplayBatch{AppID: ep.AppID, EndpointID: ep.ID, Since: since, Until: until}
		p, err := s.cfg.Store.PreviewReplayMissing(c.Request.Context(), ep, b, previewLimit)
		s.answerPreview(c, p, err)
		return
	}
	s.startTask(c, ep, webhook.TaskEndpointReplay, background.ReplayParams{EndpointID: ep.ID, Since: since, Until: until})
}

func (s *Server) answerPreview(c *gin.Context, p webhook.ReplayPreview, err error) {
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, replayPreviewOut{DryRun: true, Count: p.Count, MsgIDs: p.First})
}

// startTask stores a background task of kind on ep's application (a
// replay to a disabled endpoint is refused) and answers it, running, with
// 202.
func (s *Server) startTask(c *gin.Context, ep *webhook.Endpoint, kind webhook.TaskKind, params any) {
	if err := checkReplayable(ep); err != nil {
		fail(c, err)
		return
	}
	task, err := webhook.NewBackgroundTask(ep.OrgID, ep.AppID, kind, params)
	if err == nil {
		err = s.cfg.Store.CreateBackgroundTask(c.Request.Context(), task)
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusAccepted, taskOutOf(task))
}

// cancelMsgs cancels the endpoint's pending, held and retrying deliveries
// of messages created before createdBefore (at most now): it marks the
// endpoint (so that first attempts already queued look their delivery up)
// and stores an endpoint.cancel task, then answers 204; a worker cancels
// in batches. As the contract says, cancellation is not immediate: an
// attempt that runs before the task reaches its delivery is sent.
func (s *Server) cancelMsgs(c *gin.Context) {
	var in cancelMsgsIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	v := &webhook.ValidationError{}
	required(v, in.CreatedBefore != nil, "body", "createdBefore")
	before := bodyTime(v, in.CreatedBefore, "createdBefore")
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	now := s.cfg.Now().UTC()
	cut := before.UTC()
	if cut.After(now) {
		cut = now
	}
	ep := pathEndpoint(c)
	err := s.cfg.Store.MarkEndpointCancelled(c.Request.Context(), ep, now)
	var task *webhook.BackgroundTask
	if err == nil {
		task, err = webhook.NewBackgroundTask(ep.OrgID, ep.AppID, webhook.TaskEndpointCancel,
			background.CancelParams{EndpointID: ep.ID, CreatedBefore: cut})
	}
	if err == nil {
		err = s.cfg.Store.CreateBackgroundTask(c.Request.Context(), task)
	}
	if err != nil {
		fail(c, err)
		return
	}
	noContent(c)
}

// checkNames validates a list of event type names at loc: unique, each
// a valid name.
func checkNames(v *webhook.ValidationError, names []string, loc ...string) {
	seen := map[string]bool{}
	for i, n := range names {
		at := append(slices.Clip(loc), strconv.Itoa(i))
		if !webhook.ValidName(n) || len(n) > webhook.MaxEventTypeLength {
			v.Add("must be an event type name", at...)
		}
		if seen[n] {
			v.Add("duplicate item", at...)
		}
		seen[n] = true
	}
}

func validChannel(s string) bool {
	return webhook.ValidName(s) && len(s) <= webhook.MaxChannelLength
}

func validCodeClass(c int) bool {
	return c >= 0 && c <= 500 && c%100 == 0
}
