package delivery

import (
	"context"
	"time"

	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// typeSchedule is an event type's retry schedule as the Attempter keeps it.
type typeSchedule struct {
	schedule retry.Schedule
	ok       bool // false: the type has none, the Attempter's Schedule applies
}

// scheduleCacheSize caps the event types whose schedules are kept.
const scheduleCacheSize = 10_000

// scheduleOf returns the retry schedule of msg: its event type's when it
// has one (webhook.EventType.RetrySchedule), else the Attempter's. The
// event type's is read once per ScheduleTTL: an attempt, even the fresh
// first one that reads nothing else, usually finds it in memory.
func (a *Attempter) scheduleOf(ctx context.Context, msg *webhook.Message) (retry.Schedule, error) {
	a.cacheOnce.Do(a.initCaches)
	ts, err := a.schedules.Load([2]string{msg.OrgID, msg.EventType}, func() (typeSchedule, error) {
		s, ok, err := a.Store.EventTypeRetrySchedule(ctx, msg.OrgID, msg.EventType)
		return typeSchedule{schedule: s, ok: ok}, err
	})
	if err != nil {
		return nil, err
	}
	if !ts.ok {
		return a.Schedule, nil
	}
	return ts.schedule, nil
}

// initCaches makes the Attempter's caches, once.
func (a *Attempter) initCaches() {
	ttl := a.EndpointTTL
	if ttl == 0 {
		ttl = time.Second
	}
	a.endpoints = ttlcache.New[string, webhook.Endpoint](ttl, endpointCacheSize)
	sttl := a.ScheduleTTL
	if sttl == 0 {
		sttl = 5 * time.Second
	}
	a.schedules = ttlcache.New[[2]string, typeSchedule](sttl, scheduleCacheSize)
}
