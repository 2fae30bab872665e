package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// durationIO is Svix's Duration: whole seconds and nanoseconds.
type durationIO struct {
	Secs  *uint64 `json:"secs"`
	Nanos *uint32 `json:"nanos"`
}

// retryScheduleIO is Svix's RetryScheduleInOut: the delays between the
// attempts of an event type's messages; null means the installation's
// schedule (HOOKD_RETRY_SCHEDULE).
type retryScheduleIO struct {
	RetrySchedule Opt[[]durationIO] `json:"retrySchedule"`
}

// retryScheduleOut is the answer: the schedule, or null.
type retryScheduleOut struct {
	RetrySchedule []durationIO `json:"retrySchedule"`
}

func retryScheduleOutOf(et *webhook.EventType) retryScheduleOut {
	if et.RetrySchedule == nil {
		return retryScheduleOut{}
	}
	out := retryScheduleOut{RetrySchedule: make([]durationIO, len(et.RetrySchedule))}
	for i, d := range et.RetrySchedule {
		secs, nanos := uint64(d/time.Second), uint32(d%time.Second)
		out.RetrySchedule[i] = durationIO{Secs: &secs, Nanos: &nanos}
	}
	return out
}

// durations converts a schedule from the API, checking each Duration's
// fields and the schedule's limits (webhook.CheckRetrySchedule).
func durations(in []durationIO) ([]time.Duration, error) {
	v := &webhook.ValidationError{}
	out := make([]time.Duration, len(in))
	for i, d := range in {
		loc := []string{"body", "retrySchedule", strconv.Itoa(i)}
		switch {
		case d.Secs == nil || d.Nanos == nil:
			v.Add("must have secs and nanos", loc...)
		case *d.Nanos >= uint32(time.Second):
			v.Add("nanos must be below 1000000000", loc...)
		case *d.Secs > uint64(webhook.MaxRetryDelay/time.Second):
			v.Add(fmt.Sprintf("must be between %s and %s", webhook.MinRetryDelay, webhook.MaxRetryDelay), loc...)
		default:
			out[i] = time.Duration(*d.Secs)*time.Second + time.Duration(*d.Nanos) // secs is bounded: no overflow
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, webhook.CheckRetrySchedule(out, "body", "retrySchedule")
}

// getRetrySchedule answers an event type's retry schedule (null: it has
// none). An app-portal token sees it where it sees the event type.
func (s *Server) getRetrySchedule(c *gin.Context) {
	et, err := s.visibleEventType(c, c.Param("event_type_name"))
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, retryScheduleOutOf(et))
}

// putRetrySchedule sets an event type's retry schedule: messages of the
// type are retried after these delays instead of HOOKD_RETRY_SCHEDULE's
// (an empty list: one attempt, no retry); null or absent removes it.
// Workers see the change within their cache's lifetime (5 seconds).
func (s *Server) putRetrySchedule(c *gin.Context) {
	var in retryScheduleIO
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	var schedule []time.Duration
	if in.RetrySchedule.Set && !in.RetrySchedule.Null {
		var err error
		if schedule, err = durations(in.RetrySchedule.V); err != nil {
			fail(c, err)
			return
		}
	}
	et := &webhook.EventType{OrgID: principal(c).OrgID, Name: c.Param("event_type_name")}
	err := s.cfg.Store.UpdateEventType(c.Request.Context(), et, func(et *webhook.EventType) error {
		et.RetrySchedule = schedule
		return nil
	})
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, retryScheduleOutOf(et))
}
