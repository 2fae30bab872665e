package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// messageSelect are the columns of a messageRow; the payload is left out
// (NULL) when @with_content is false, so a list without content reads no
// payload from disk.
const messageSelect = `m.id, m.org_id, m.app_id, m.event_type, m.event_id, m.channels, m.tags,
	CASE WHEN @with_content THEN m.payload END AS payload, m.retention_days, m.ordering_key, m.created_at`

// listMessagesSQL returns the statement of one page of an application's
// messages with filter f (docs/scaling.md, "Search"). Every filter is an
// index condition or a cheap check of the rows an index walk yields:
//
//   - the page walks messages_app_id (app_id, id) from the cursor, or the
//     index of a selective filter (messages_app_event_type, the unique
//     index on (app_id, event_id) for an eventId prefix) when the planner
//     finds it cheaper;
//   - a channel or tag is a probe of message_channels or message_tags
//     (app_id, channel or tag, msg_id), which the planner may also walk in
//     message order, merged with the messages;
//   - the status filter keeps the messages with a delivery of that status
//     and none of a worse one (webhook.WorseThan), both probes of
//     deliveries_app_status (deliveries that did not succeed), or of the
//     unique (msg_id, endpoint_id) index for success; the planner may
//     instead walk deliveries_app_status for the status, in message order,
//     merged with the messages.
//
// The page's id range is repeated on every walk that may be merged with
// the messages, so that it starts where the page does.
func listMessagesSQL(appID string, f webhook.MessageFilter, opt webhook.ListOptions) (string, pgx.NamedArgs) {
	return listMessagesWindowSQL(appID, f, opt, window{})
}

// window is a range of message ids [from, to) that one statement of a
// list is confined to, at partition bounds (listWindows); "" is no bound.
type window struct{ from, to string }

// listMessagesWindowSQL is listMessagesSQL confined to w: the bounds are
// repeated on every table, and on the deliveries' id (which starts with
// their message's), so that the planner prunes the partitions outside w
// before planning them.
func listMessagesWindowSQL(appID string, f webhook.MessageFilter, opt webhook.ListOptions, w window) (string, pgx.NamedArgs) {
	args := pgx.NamedArgs{"app_id": appID, "with_content": !f.OmitPayload, "limit": opt.Limit + 1}
	where := []string{"m.app_id = @app_id"}
	// bounds are the message id range, written for a column: the status
	// probe repeats them on the delivery's msg_id, so that its index walk
	// starts where the page does.
	var bounds []string
	asc := opt.Ascending != opt.Backward // walking backward flips the scan
	if opt.Cursor != "" {
		args["cursor"] = opt.Cursor
		bounds = append(bounds, map[bool]string{true: "%s > @cursor", false: "%s < @cursor"}[asc])
	}
	if f.Before != nil {
		args["before_id"] = webhook.TimeID(webhook.PrefixMessage, *f.Before)
		bounds = append(bounds, "%s < @before_id")
	}
	if f.After != nil {
		args["after_id"] = webhook.TimeID(webhook.PrefixMessage, *f.After)
		bounds = append(bounds, "%s > @after_id")
	}
	if w.from != "" {
		args["win_from"], args["win_from_dlv"] = w.from, webhook.PrefixDelivery+strings.TrimPrefix(w.from, webhook.PrefixMessage)
		bounds = append(bounds, "%s >= @win_from")
	}
	if w.to != "" {
		args["win_to"], args["win_to_dlv"] = w.to, webhook.PrefixDelivery+strings.TrimPrefix(w.to, webhook.PrefixMessage)
		bounds = append(bounds, "%s < @win_to")
	}
	inRange := func(col string) string {
		var out []string
		for _, b := range bounds {
			out = append(out, " AND "+fmt.Sprintf(b, col))
		}
		return strings.Join(out, "")
	}
	// inDeliveries is inRange of d.msg_id, plus the window on the
	// deliveries' own id, their partition key: d.msg_id >= x exactly when
	// d.id >= 'dlv_' || x's KSUID, and the same for <.
	inDeliveries := func() string {
		out := inRange("d.msg_id")
		if w.from != "" {
			out += " AND d.id >= @win_from_dlv"
		}
		if w.to != "" {
			out += " AND d.id < @win_to_dlv"
		}
		return out
	}
	if len(bounds) > 0 {
		where = append(where, strings.TrimPrefix(inRange("m.id"), " AND "))
	}
	switch len(f.EventTypes) {
	case 0:
	case 1:
		// Equality, not ANY: messages_app_event_type then yields the
		// type's messages in id order, and the page stops after its limit.
		args["event_type"] = f.EventTypes[0]
		where = append(where, "m.event_type = @event_type")
	default:
		args["event_types"] = f.EventTypes
		where = append(where, "m.event_type = ANY(@event_types)")
	}
	if f.Channel != "" {
		args["channel"] = f.Channel
		where = append(where, "EXISTS (SELECT 1 FROM message_channels c WHERE c.app_id = @app_id AND c.channel = @channel AND c.msg_id = m.id"+
			inRange("c.msg_id")+")")
	}
	if f.Tag != "" {
		args["tag"] = f.Tag
		where = append(where, "EXISTS (SELECT 1 FROM message_tags t WHERE t.app_id = @app_id AND t.tag = @tag AND t.msg_id = m.id"+
			inRange("t.msg_id")+")")
	}
	if p := f.EventIDPrefix; p != "" {
		// A range of the C collation: every string starting with p sorts in
		// [p, p with its last byte increased). eventIds are ASCII.
		args["event_id_from"], args["event_id_to"] = p, p[:len(p)-1]+string(p[len(p)-1]+1)
		where = append(where, "m.event_id >= @event_id_from AND m.event_id < @event_id_to")
	}
	if s := f.Status; s != nil {
		args["status"] = int(*s)
		worse := webhook.WorseThan(*s)
		args["worse"] = statusInts(worse)
		if *s == webhook.StatusSuccess {
			where = append(where, "EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.status = 0"+inDeliveries()+")")
		} else {
			where = append(where, "EXISTS (SELECT 1 FROM deliveries d WHERE d.app_id = @app_id AND d.status = @status AND d.msg_id = m.id"+
				inDeliveries()+")")
		}
		if len(worse) > 0 {
			where = append(where, "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.app_id = @app_id AND d.status = ANY(@worse) AND d.msg_id = m.id"+
				inDeliveries()+")")
		}
	}
	dir := "DESC"
	if asc {
		dir = "ASC"
	}
	return "SELECT " + messageSelect + " FROM messages m WHERE " + strings.Join(where, " AND ") +
		" ORDER BY m.id " + dir + " LIMIT @limit", args
}

// jsonArray returns the JSON array of the one string s.
func jsonArray(s string) string {
	raw, _ := json.Marshal([]string{s})
	return string(raw)
}

func statusInts(list []webhook.MessageStatus) []int {
	out := make([]int, len(list))
	for i, s := range list {
		out[i] = int(s)
	}
	return out
}

// ListMessages implements webhook.MessageStore (see listMessagesSQL), on
// the replica (Options.ReadDSN).
func (db *DB) ListMessages(ctx context.Context, app *webhook.Application, f webhook.MessageFilter, opt webhook.ListOptions) (webhook.Page[webhook.Message], error) {
	var found []messageRow
	for _, w := range listWindows(f, opt, time.Now()) {
		query, args := listMessagesWindowSQL(app.ID, f, opt, w)
		args["limit"] = opt.Limit + 1 - len(found)
		// Planned for its arguments every time (an unnamed statement, its
		// description cached): a plan made once for any application would
		// walk the whole primary key for a small application when another
		// holds most of the messages; and only then are the partitions
		// outside the window left out of the planning.
		rows, _ := db.replica.pgx.Query(ctx, query, pgx.QueryExecModeCacheDescribe, args)
		more, err := pgx.CollectRows(rows, pgx.RowToStructByName[messageRow])
		if err != nil {
			return webhook.Page[webhook.Message]{}, fmt.Errorf("listing messages: %w", err)
		}
		if found = append(found, more...); len(found) > opt.Limit {
			break
		}
	}
	return pageOf(found, opt, (*messageRow).message)
}

// listWindowDays are the lengths of the windows a page of messages is
// looked for in, from where it starts, before the rest of the table: most
// pages are found in the newest day or week, and a statement confined to
// a few days' partitions is planned in a fraction of the time one over all
// of them takes (docs/scaling.md, "At scale").
var listWindowDays = []int{2, 7}

// listWindows returns the id ranges a page of f and opt is looked for in,
// in the page's order: windows of listWindowDays days from the page's
// start (its cursor or time bound, else now for the newest page), at UTC
// midnights, then the rest. A page in ascending order without a start
// (the oldest first) has one window, the whole range.
func listWindows(f webhook.MessageFilter, opt webhook.ListOptions, now time.Time) []window {
	asc := opt.Ascending != opt.Backward
	var start time.Time
	switch {
	case opt.Cursor != "":
		t, ok := webhook.IDTime(webhook.PrefixMessage, opt.Cursor)
		if !ok {
			return []window{{}}
		}
		start = t
	case asc && f.After != nil:
		start = *f.After
	case !asc && f.Before != nil:
		start = *f.Before
	case !asc:
		start = now
	default:
		return []window{{}}
	}
	day := start.UTC().Truncate(24 * time.Hour)
	if !asc {
		day = day.AddDate(0, 0, 1) // the end of the start's day
	}
	var out []window
	edge := ""
	for _, n := range listWindowDays {
		var w window
		if asc {
			day = day.AddDate(0, 0, n)
			w = window{from: edge, to: webhook.TimeID(webhook.PrefixMessage, day)}
			edge = w.to
		} else {
			day = day.AddDate(0, 0, -n)
			w = window{from: webhook.TimeID(webhook.PrefixMessage, day), to: edge}
			edge = w.from
		}
		out = append(out, w)
		// The page's other time bound ends the walk.
		if (asc && f.Before != nil && !day.Before(*f.Before)) || (!asc && f.After != nil && !day.After(*f.After)) {
			return out
		}
	}
	if asc {
		return append(out, window{from: edge})
	}
	return append(out, window{to: edge})
}

// CountDeliveries implements webhook.MessageStore: one grouped read of the
// (msg_id, endpoint_id) index of the partitions the messages' deliveries
// are in (deliveryRange). It reads the primary: the status of
// one message is asked for right after publishing it.
func (db *DB) CountDeliveries(ctx context.Context, msgIDs []string) (map[string]webhook.StatusCounts, error) {
	out := make(map[string]webhook.StatusCounts, len(msgIDs))
	if len(msgIDs) == 0 {
		return out, nil
	}
	from, to := deliveryRange(slices.Min(msgIDs), slices.Max(msgIDs))
	rows, _ := db.pool.Query(ctx, `
		SELECT msg_id, status, count(*) AS n FROM deliveries
		WHERE msg_id = ANY(@ids) AND (id >= @from AND id < @to OR id < @legacy_end)
		GROUP BY msg_id, status`, pgx.NamedArgs{"ids": msgIDs, "from": from, "to": to, "legacy_end": db.legacyEnd(ctx)})
	type countRow struct {
		MsgID  string
		Status int
		N      int
	}
	counted, err := pgx.CollectRows(rows, pgx.RowToStructByName[countRow])
	if err != nil {
		return nil, fmt.Errorf("counting deliveries: %w", err)
	}
	for _, c := range counted {
		sc := out[c.MsgID]
		sc.Add(webhook.MessageStatus(c.Status), c.N)
		out[c.MsgID] = sc
	}
	return out, nil
}

// deliveryRange returns the range [from, to) of the ids of the deliveries
// of the messages with ids from first to last: a delivery's id is
// "dlv_", its message's KSUID, then its endpoint's, so the range names
// the partitions to read. ('~' sorts after every base62 digit.) Deliveries
// made before migration 00070 by a resend to a new endpoint have ids of
// their own time: callers add "OR id < legacyEnd" (the legacy partition).
func deliveryRange(first, last string) (from, to string) {
	return webhook.PrefixDelivery + strings.TrimPrefix(first, webhook.PrefixMessage),
		webhook.PrefixDelivery + strings.TrimPrefix(last, webhook.PrefixMessage) + "~"
}
