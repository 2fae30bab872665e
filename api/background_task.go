package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// backgroundTaskOut is the contract's BackgroundTaskOut.
type backgroundTaskOut struct {
	Data      json.RawMessage `json:"data"`
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Task      string          `json:"task"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

func backgroundTaskOutOf(t *webhook.BackgroundTask) backgroundTaskOut {
	data := t.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	return backgroundTaskOut{Data: data, ID: t.ID, Status: string(t.Status), Task: string(t.Kind), UpdatedAt: t.UpdatedAt}
}

// listBackgroundTasks lists the organisation's background tasks, newest
// first, filtered by status and task (kind). An app-portal token sees only
// its application's tasks.
func (s *Server) listBackgroundTasks(c *gin.Context) {
	opt, err := listOptions(c, false, validIDCursor(webhook.PrefixTask))
	v := &webhook.ValidationError{}
	if err != nil {
		v, _ = asValidation(err)
	}
	// hookd's own kinds are not listed: the SDKs refuse types they do not know.
	f := webhook.TaskFilter{AppID: principal(c).AppID, Kinds: webhook.ContractTaskKinds()}
	if st := c.Query("status"); st != "" {
		if !webhook.ValidTaskStatus(st) {
			v.Add("must be running, finished or failed", "query", "status")
		}
		f.Status = webhook.TaskStatus(st)
	}
	if kind := c.Query("task"); kind != "" {
		if !webhook.ValidTaskKind(kind) {
			v.Add("is not a background task type", "query", "task")
		}
		f.Kind = webhook.TaskKind(kind)
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	page, err := s.cfg.Store.ListBackgroundTasks(c.Request.Context(), principal(c).OrgID, f, opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, newList(page, opt, backgroundTaskOutOf, func(t *webhook.BackgroundTask) string { return t.ID }))
}

// getBackgroundTask answers one background task by id; another
// application's task is a 404 to an app-portal token.
func (s *Server) getBackgroundTask(c *gin.Context) {
	p := principal(c)
	t, err := s.cfg.Store.FindBackgroundTask(c.Request.Context(), p.OrgID, c.Param("task_id"))
	if err == nil && ((p.AppID != "" && t.AppID != p.AppID) || !webhook.ValidTaskKind(string(t.Kind))) {
		err = webhook.Errorf(webhook.ENOTFOUND, "background task not found")
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, backgroundTaskOutOf(t))
}
