package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// BulkLoad describes synthetic history for measuring hookd at scale (`hookd
// bench load`, docs/scaling.md "At scale"): messages spread evenly over
// Days UTC days ending with the day before End's, each delivered to the
// first endpoint and every tenth also to the second. Deliveries: 97 %
// succeeded after one attempt, 1.5 % failed after one, 0.5 % waiting for a
// retry after one (sending), 0.5 % pending and 0.5 % cancelled without
// attempts. Every message has the channels "project-<i mod 1000>" and "eu" or
// "us", every other one an eventId "load-<day>-<i>".
type BulkLoad struct {
	OrgID, AppID string
	// Endpoints are the ids of the two endpoints of the application.
	Endpoints [2]string
	Messages  int
	Days      int
	End       time.Time
	// Progress, if set, is told after each day.
	Progress func(day time.Time, messages int, took time.Duration)
}

// bulkEventTypes are the load's event types, in per mille of the messages.
var bulkEventTypes = []struct {
	name     string
	permille int
}{
	{"order.created", 400}, {"order.paid", 200}, {"invoice.paid", 150}, {"invoice.voided", 100},
	{"user.created", 80}, {"user.updated", 70},
}

// BulkLoad writes l's rows with COPY, one UTC day at a time into the day's
// partitions (created first), then files the channels and eventIds in SQL
// and analyses the tables. It is for measurements: it bypasses the
// publishing path and its checks.
func (db *DB) BulkLoad(ctx context.Context, l BulkLoad) error {
	endDay := l.End.UTC().Truncate(24 * time.Hour)
	first := endDay.AddDate(0, 0, -l.Days)
	if _, err := db.ensurePartitions(ctx, first, l.Days+PartitionsAhead+1); err != nil {
		return err
	}
	perDay := l.Messages / l.Days
	for d := range l.Days {
		day := first.AddDate(0, 0, d)
		n := perDay
		if d == l.Days-1 {
			n = l.Messages - perDay*(l.Days-1)
		}
		began := time.Now()
		if err := db.loadDay(ctx, l, day, n); err != nil {
			return fmt.Errorf("loading %s: %w", day.Format(time.DateOnly), err)
		}
		if l.Progress != nil {
			l.Progress(day, n, time.Since(began))
		}
	}
	for _, t := range []string{"messages", "deliveries", "attempts", "message_channels", "message_tags", "message_event_ids"} {
		if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			return fmt.Errorf("analysing %s: %w", t, err)
		}
	}
	return nil
}

// loadDay loads n messages spread over day, with their deliveries,
// attempts, channels and eventIds.
func (db *DB) loadDay(ctx context.Context, l BulkLoad, day time.Time, n int) error {
	step := 24 * time.Hour / time.Duration(n)
	at := func(i int) time.Time { return day.Add(time.Duration(i) * step).Truncate(time.Microsecond) }
	suffix := "_p" + day.Format("20060102")
	stamp := day.Format("20060102")
	i := 0
	_, err := db.pool.CopyFrom(ctx, pgx.Identifier{"messages" + suffix},
		[]string{"id", "org_id", "app_id", "event_type", "event_id", "channels", "payload", "retention_days", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			t := at(i)
			eventType := "account.closed"
			if r := i % 1000; i%10000 != 0 {
				for _, et := range bulkEventTypes {
					if r < et.permille {
						eventType = et.name
						break
					}
					r -= et.permille
				}
			}
			var eventID any
			if i%2 == 0 {
				eventID = "load-" + stamp + "-" + strconv.Itoa(i)
			}
			region := `"eu"`
			if i%2 == 1 {
				region = `"us"`
			}
			row := []any{webhook.TimeID(webhook.PrefixMessage, t), l.OrgID, l.AppID, eventType, eventID,
				fmt.Sprintf(`["project-%d", %s]`, i%1000, region),
				fmt.Sprintf(`{"id":%d,"type":%q,"amount":%d,"currency":"eur","customer":"cus_%08d"}`, i, eventType, i%10000, i%100000),
				90, t}
			i++
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("copying messages: %w", err)
	}
	status := func(i int) webhook.MessageStatus {
		switch r := (i * 7919) % 1000; {
		case r < 15:
			return webhook.StatusFail
		case r < 20:
			return webhook.StatusSending
		case r < 25:
			return webhook.StatusPending
		case r < 30:
			return webhook.StatusCanceled
		}
		return webhook.StatusSuccess
	}
	// each calls emit for every delivery of the day, in id order.
	each := func(emit func(i, ep int, s webhook.MessageStatus) []any) pgx.CopyFromSource {
		i, ep := 0, 0
		return pgx.CopyFromFunc(func() ([]any, error) {
			for i < n {
				if ep == 1 && i%10 != 0 {
					i, ep = i+1, 0
					continue
				}
				s := webhook.StatusSuccess
				if ep == 0 {
					s = status(i)
				}
				row := emit(i, ep, s)
				if ep == 0 {
					ep = 1
				} else {
					i, ep = i+1, 0
				}
				if row != nil {
					return row, nil
				}
			}
			return nil, nil
		})
	}
	_, err = db.pool.CopyFrom(ctx, pgx.Identifier{"deliveries" + suffix},
		[]string{"id", "org_id", "app_id", "msg_id", "endpoint_id", "status", "round_attempts", "next_attempt_at", "reason", "created_at", "updated_at"},
		each(func(i, ep int, s webhook.MessageStatus) []any {
			t := at(i)
			msgID := webhook.TimeID(webhook.PrefixMessage, t)
			attempts, next, reason := 1, any(nil), any(nil)
			switch s {
			case webhook.StatusPending:
				attempts, next = 0, t
			case webhook.StatusCanceled:
				attempts, reason = 0, "filter failed"
			case webhook.StatusSending:
				next = t.Add(5 * time.Minute)
			}
			return []any{deliveryID(msgID, l.Endpoints[ep]), l.OrgID, l.AppID, msgID, l.Endpoints[ep], int(s), attempts, next, reason, t, t}
		}))
	if err != nil {
		return fmt.Errorf("copying deliveries: %w", err)
	}
	_, err = db.pool.CopyFrom(ctx, pgx.Identifier{"attempts" + suffix},
		[]string{"id", "delivery_id", "org_id", "app_id", "msg_id", "endpoint_id", "task_key", "url", "status",
			"response_status_code", "response", "response_duration_ms", "trigger_type", "created_at"},
		each(func(i, ep int, s webhook.MessageStatus) []any {
			code := map[webhook.MessageStatus]int{webhook.StatusSuccess: 200, webhook.StatusFail: 500, webhook.StatusSending: 503}[s]
			if code == 0 {
				return nil
			}
			t := at(i)
			msgID := webhook.TimeID(webhook.PrefixMessage, t)
			done := t.Add(time.Duration(50+ep) * time.Millisecond)
			attemptStatus := webhook.StatusFail
			if code == 200 {
				attemptStatus = webhook.StatusSuccess
			}
			return []any{webhook.TimeID(webhook.PrefixAttempt, done), deliveryID(msgID, l.Endpoints[ep]), l.OrgID, l.AppID, msgID,
				l.Endpoints[ep], "s:0:1", "https://example.com/load", int(attemptStatus), code, `{"ok":true}`, 42, 0, done}
		}))
	if err != nil {
		return fmt.Errorf("copying attempts: %w", err)
	}
	// The channels and eventIds, as publishing files them.
	for _, stmt := range []string{
		`INSERT INTO message_channels` + suffix + ` (app_id, channel, msg_id)
		 SELECT m.app_id, c, m.id FROM messages` + suffix + ` m, jsonb_array_elements_text(m.channels) AS c WHERE m.app_id = $1`,
		`INSERT INTO message_event_ids (app_id, event_id, msg_id)
		 SELECT m.app_id, m.event_id, m.id FROM messages` + suffix + ` m WHERE m.app_id = $1 AND m.event_id IS NOT NULL`,
	} {
		if _, err := db.pool.Exec(ctx, stmt, l.AppID); err != nil {
			return err
		}
	}
	return nil
}
