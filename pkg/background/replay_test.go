package background_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// publish stores a message of eventType with channels and tags (nil:
// none) and returns it with its deliveries.
func (b *bundle) publish(eventType string, channels, tags []string, key *string) (*webhook.Message, []webhook.Delivery) {
	b.t.Helper()
	m := &webhook.Message{OrgID: b.org.ID, AppID: b.app.ID, EventType: eventType, Channels: channels, Tags: tags,
		OrderingKey: key, Payload: json.RawMessage(`{"n":1}`), RetentionDays: 90}
	ds, err := b.db.CreateMessage(b.ctx, m, "")
	if err != nil {
		b.t.Fatal(err)
	}
	return m, ds
}

// setDelivery sets the status of the delivery of msg to ep, scheduling
// it (sending) or not (the others but pending), and records an attempt
// answered code when code >= 0.
func (b *bundle) setDelivery(msg *webhook.Message, ep *webhook.Endpoint, status webhook.MessageStatus, code int) {
	b.t.Helper()
	b.exec(`UPDATE deliveries SET status = $1::int, held = false,
		next_attempt_at = CASE WHEN $1::int IN (1, 3) THEN now() + interval '1 hour' END,
		reconcile_at = CASE WHEN $1::int IN (1, 3) THEN now() + interval '2 hours' END,
		round_attempts = CASE WHEN $1::int = 1 THEN 0 ELSE 1 END
		WHERE msg_id = $2 AND endpoint_id = $3`, int(status), msg.ID, ep.ID)
	if code >= 0 {
		b.exec(`INSERT INTO attempts (id, delivery_id, org_id, app_id, msg_id, endpoint_id, task_key, url, status,
			response_status_code, response, response_duration_ms, trigger_type, created_at)
			SELECT $1, d.id, d.org_id, d.app_id, d.msg_id, d.endpoint_id, 's:0:1', 'https://example.com', 2, $2, '', 1, 0, now()
			FROM deliveries d WHERE d.msg_id = $3 AND d.endpoint_id = $4`,
			webhook.NewID(webhook.PrefixAttempt), code, msg.ID, ep.ID)
	}
}

// deliveryState is a delivery as stored.
type deliveryState struct {
	ID            string
	MsgID         string
	Status        int
	Round         int
	RoundAttempts int
	Held          bool
	NextAttemptAt *time.Time
	OrderingKey   *string
}

// deliveries returns ep's deliveries by message id.
func (b *bundle) deliveries(ep *webhook.Endpoint) map[string]deliveryState {
	b.t.Helper()
	conn, err := pgx.Connect(b.ctx, b.dsn)
	if err != nil {
		b.t.Fatal(err)
	}
	defer conn.Close(b.ctx)
	rows, _ := conn.Query(b.ctx, `SELECT id, msg_id, status, round, round_attempts, held, next_attempt_at, ordering_key
		FROM deliveries WHERE endpoint_id = $1`, ep.ID)
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[deliveryState])
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string]deliveryState{}
	for _, d := range found {
		out[d.MsgID] = d
	}
	return out
}

// runTask runs the processor until no task is runnable.
func (b *bundle) runTask(p *background.Processor) {
	b.t.Helper()
	for {
		ran, err := p.RunOnce(b.ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		if !ran {
			return
		}
	}
}

// replayFixture is six messages to b.ep in every state a replay filter
// tells apart, and one to another endpoint.
type replayFixture struct {
	msgs  []*webhook.Message
	since time.Time
}

func (b *bundle) replayFixture() replayFixture {
	b.t.Helper()
	f := replayFixture{since: time.Now().Add(-time.Minute)}
	for _, m := range []struct {
		eventType      string
		channels, tags []string
		status         webhook.MessageStatus
		code           int
	}{
		{"a", []string{"c1"}, []string{"t1"}, webhook.StatusSuccess, 200}, // 0
		{"b", []string{"c2"}, nil, webhook.StatusFail, 500},               // 1
		{"a", nil, []string{"t2"}, webhook.StatusFail, 0},                 // 2: no response
		{"a", nil, nil, webhook.StatusSending, 503},                       // 3
		{"b", nil, nil, webhook.StatusCanceled, -1},                       // 4: never attempted
		{"a", nil, nil, webhook.StatusPending, -1},                        // 5
	} {
		msg, _ := b.publish(m.eventType, m.channels, m.tags, nil)
		b.setDelivery(msg, b.ep, m.status, m.code)
		f.msgs = append(f.msgs, msg)
	}
	return f
}

func (f replayFixture) ids(i ...int) []string {
	var out []string
	for _, n := range i {
		out = append(out, f.msgs[n].ID)
	}
	return out
}

func TestBulkReplayFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.replayFixture()
	expunged, _ := b.publish("a", nil, nil, nil) // nothing to send: never replayed
	b.setDelivery(expunged, b.ep, webhook.StatusSuccess, 200)
	b.exec(`UPDATE messages SET payload = NULL WHERE id = $1`, expunged.ID)
	until := time.Now()
	b.publish("a", nil, nil, nil) // after until: never replayed
	status := func(s webhook.MessageStatus) *webhook.MessageStatus { return &s }
	class := func(c int) *int { return &c }
	for _, tc := range []struct {
		name   string
		filter webhook.ReplayFilter
		want   []string
	}{
		{"no filter", webhook.ReplayFilter{}, f.ids(0, 1, 2, 3, 4, 5)},
		{"event types", webhook.ReplayFilter{EventTypes: []string{"a"}}, f.ids(0, 2, 3, 5)},
		{"channel", webhook.ReplayFilter{Channel: "c1"}, f.ids(0)},
		{"tag", webhook.ReplayFilter{Tag: "t2"}, f.ids(2)},
		{"status", webhook.ReplayFilter{Status: status(webhook.StatusFail)}, f.ids(1, 2)},
		{"canceled", webhook.ReplayFilter{Status: status(webhook.StatusCanceled)}, f.ids(4)},
		// The class of the last attempt; never attempted is no class.
		{"5xx", webhook.ReplayFilter{StatusCodeClass: class(500)}, f.ids(1, 3)},
		{"2xx", webhook.ReplayFilter{StatusCodeClass: class(200)}, f.ids(0)},
		{"no response", webhook.ReplayFilter{StatusCodeClass: class(0)}, f.ids(2)},
		{"combined", webhook.ReplayFilter{EventTypes: []string{"a"}, Status: status(webhook.StatusFail)}, f.ids(2)},
	} {
		batch := webhook.ReplayBatch{AppID: b.app.ID, EndpointID: b.ep.ID, Since: f.since, Until: until, Filter: tc.filter}
		p, err := b.db.PreviewBulkReplay(b.ctx, batch, 3)
		if err != nil {
			t.Fatal(err)
		}
		if p.Count != len(tc.want) || !slices.Equal(p.First, tc.want[:min(3, len(tc.want))]) {
			t.Errorf("%s: preview %d %v, want %d %v", tc.name, p.Count, p.First, len(tc.want), tc.want)
		}
	}
}

// A bulk replay restarts every matching delivery in a new round, due now
// and not held, batch by batch, and queues its first attempt with its message.
func TestBulkReplayRestartsDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.replayFixture()
	other := b.endpoint()
	before := b.deliveries(b.ep)
	task := b.task(webhook.TaskEndpointBulkReplay, background.ReplayParams{
		EndpointID: b.ep.ID, Since: f.since, Until: time.Now(), EventTypes: []string{"a"},
	})
	queue := &recordingQueue{}
	steps := 0
	p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointBulkReplay: stepCounter{&background.Replay{Store: b.db, Queue: queue, BatchSize: 2}, &steps},
	}}
	b.runTask(p)
	got := b.reload(task.ID)
	if got.Status != webhook.TaskFinished || !jsonEqual(got.Data, `{"messagesSent":4}`) {
		t.Fatalf("task = %s %s, want finished with 4 sent", got.Status, got.Data)
	}
	if steps != 4 { // 6 deliveries looked at, 2 per step, then the end
		t.Fatalf("%d steps, want 4", steps)
	}
	after := b.deliveries(b.ep)
	var want []string
	for _, i := range []int{0, 2, 3, 5} {
		id := f.msgs[i].ID
		d, was := after[id], before[id]
		if d.Status != int(webhook.StatusPending) || d.Round != was.Round+1 || d.RoundAttempts != 0 || d.Held ||
			d.NextAttemptAt == nil || time.Since(*d.NextAttemptAt) > time.Minute {
			t.Errorf("message %d after the replay: %+v, want pending in round %d, due now", i, d, was.Round+1)
		}
		want = append(want, d.ID)
	}
	for _, i := range []int{1, 4} {
		if d, was := after[f.msgs[i].ID], before[f.msgs[i].ID]; d.Status != was.Status || d.Round != was.Round {
			t.Errorf("message %d (not type a) changed: %+v -> %+v", i, was, d)
		}
	}
	slices.Sort(want)
	if ids := queue.ids(); !slices.Equal(ids, want) {
		t.Fatalf("queued %v, want %v", ids, want)
	}
	for _, j := range queue.got {
		if j.Ref.Round != 1 || j.Ref.Number != 1 || j.Ref.IsManual() {
			t.Errorf("job %+v, want the first scheduled attempt of round 1", j)
		}
		if j.Fresh == nil || string(j.Fresh.Payload) != `{"n":1}` || j.Fresh.EventType != "a" || j.Fresh.EndpointID != b.ep.ID {
			t.Errorf("job %+v, want it to carry its message", j)
		}
	}
	for _, d := range b.deliveries(other) {
		if d.Round != 0 {
			t.Errorf("another endpoint's delivery was replayed: %+v", d)
		}
	}
}

// A replay keeps at most Window deliveries due and not attempted; when
// the window is full it pauses, freeing the processor, and goes on once
// the workers attempted some.
func TestReplayWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	since := time.Now().Add(-time.Minute)
	for range 7 {
		m, _ := b.publish("a", nil, nil, nil)
		b.setDelivery(m, b.ep, webhook.StatusSuccess, 200)
	}
	task := b.task(webhook.TaskEndpointBulkReplay, background.ReplayParams{EndpointID: b.ep.ID, Since: since, Until: time.Now()})
	queue := &recordingQueue{}
	const pause = 2 * time.Second
	p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointBulkReplay: &background.Replay{Store: b.db, Queue: queue, BatchSize: 2, Window: 3,
			MaxWait: 10 * time.Millisecond, Pause: pause},
	}}
	due := func() int {
		n := 0
		for _, d := range b.deliveries(b.ep) {
			if d.Status == int(webhook.StatusPending) && d.RoundAttempts == 0 {
				n++
			}
		}
		return n
	}
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("the replay did not finish")
		}
		// The first round runs at once; each later one once its pause is
		// over.
		var began time.Time // of the run that ran: its pause began after
		for deadline := time.Now().Add(5 * pause); ; time.Sleep(20 * time.Millisecond) {
			began = time.Now()
			ran, err := p.RunOnce(b.ctx)
			if err == nil && ran {
				break
			}
			if round == 0 || err != nil || time.Now().After(deadline) {
				t.Fatalf("round %d: RunOnce = %v, %v; want the task run", round, ran, err)
			}
		}
		got := b.reload(task.ID)
		if n := due(); n > 3 {
			t.Fatalf("round %d: %d deliveries due and not attempted, want at most the window of 3", round, n)
		}
		if got.Status == webhook.TaskFinished {
			break
		}
		// Paused: nobody may take it up before the pause is over. (A
		// machine too loaded to look within the pause cannot tell.)
		if ran, _ := p.RunOnce(b.ctx); ran && time.Since(began) < pause {
			t.Fatalf("round %d: a paused task was run again at once", round)
		}
		// The workers attempt what is due (a failed first attempt).
		b.exec(`UPDATE deliveries SET status = 3, round_attempts = 1 WHERE endpoint_id = $1 AND status = 1`, b.ep.ID)
	}
	if got := b.reload(task.ID); !jsonEqual(got.Data, `{"messagesSent":7}`) {
		t.Fatalf("data %s, want 7 sent", got.Data)
	}
	if n := len(queue.ids()); n != 7 {
		t.Fatalf("%d jobs queued, want 7", n)
	}
}

// Towards an endpoint with a rate limit, a replay spaces the due times at
// that rate and makes at most ten seconds' worth due ahead.
func TestReplaySpacesByRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(`UPDATE endpoints SET throttle_rate = 2 WHERE id = $1`, b.ep.ID)
	since := time.Now().Add(-time.Minute)
	for range 25 {
		b.publish("a", nil, nil, nil)
	}
	task := b.task(webhook.TaskEndpointBulkReplay, background.ReplayParams{EndpointID: b.ep.ID, Since: since, Until: time.Now()})
	queue := &recordingQueue{}
	p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointBulkReplay: &background.Replay{Store: b.db, Queue: queue, MaxWait: time.Millisecond},
	}}
	if ran, err := p.RunOnce(b.ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	if got := b.reload(task.ID); got.Status != webhook.TaskRunning || !jsonEqual(got.Data, `{"messagesSent":20}`) {
		t.Fatalf("task %s %s, want running with 20 (10 s at 2/s) sent", got.Status, got.Data)
	}
	jobs := queue.got
	slices.SortFunc(jobs, func(x, y delivery.Job) int { return x.At.Compare(y.At) })
	for i := 1; i < len(jobs); i++ {
		if gap := jobs[i].At.Sub(jobs[i-1].At); gap != 500*time.Millisecond {
			t.Fatalf("jobs %d and %d are %v apart, want 500ms", i-1, i, gap)
		}
	}
	stored := b.deliveries(b.ep)
	for _, j := range jobs {
		for _, d := range stored {
			if d.ID == j.Ref.DeliveryID && (d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(j.At)) {
				t.Fatalf("delivery %s is due at %v, its job at %v", d.ID, d.NextAttemptAt, j.At)
			}
		}
	}
}

// Replay-missing creates a delivery of each message the endpoint never
// received and that matches it, once, as if it had been published to it.
func TestReplayMissing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(`DELETE FROM endpoints WHERE id = $1`, b.ep.ID)
	since := time.Now().Add(-time.Minute)
	var want []string
	key := "k"
	for i, m := range []struct {
		eventType string
		channels  []string
		key       *string
		match     bool
	}{
		{"a", []string{"c1"}, nil, true},
		{"b", []string{"c1"}, nil, false}, // the endpoint filters on a
		{"a", []string{"c1", "c2"}, nil, true},
		{"a", []string{"c2"}, nil, false}, // not its channel
		{"a", nil, nil, false},            // no channel
		{"a", []string{"c3"}, &key, true}, // ordered: not held by a replay
	} {
		msg, _ := b.publish(m.eventType, m.channels, nil, m.key)
		if m.match {
			want = append(want, msg.ID)
		}
		if i == 0 {
			b.exec(`UPDATE messages SET payload = NULL WHERE id = $1`, msg.ID) // expunged: cannot be sent
			want = want[1:]
		}
	}
	ep := &webhook.Endpoint{OrgID: b.org.ID, AppID: b.app.ID, URL: "https://example.com/late", Version: 1,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	if err := b.db.CreateEndpoint(b.ctx, ep); err != nil {
		t.Fatal(err)
	}
	b.exec(`UPDATE endpoints SET filter_types = '["a"]', channels = '["c1", "c3"]' WHERE id = $1`, ep.ID)
	received, _ := b.publish("a", []string{"c1"}, nil, nil) // it got this one
	until := time.Now()

	for run := range 2 {
		task := b.task(webhook.TaskEndpointReplay, background.ReplayParams{EndpointID: ep.ID, Since: since, Until: until})
		queue := &recordingQueue{}
		p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
			webhook.TaskEndpointReplay: &background.Replay{Store: b.db, Queue: queue, BatchSize: 2, Missing: true},
		}}
		b.runTask(p)
		sent := len(want)
		if run == 1 {
			sent = 0 // created the first time
		}
		if got := b.reload(task.ID); got.Status != webhook.TaskFinished || !jsonEqual(got.Data, fmt.Sprintf(`{"messagesSent":%d}`, sent)) {
			t.Fatalf("run %d: task %s %s, want finished with %d sent", run, got.Status, got.Data, sent)
		}
		if run == 1 {
			if len(queue.got) != 0 {
				t.Fatalf("the second run queued %d jobs", len(queue.got))
			}
			break
		}
		for _, j := range queue.got {
			if j.Fresh == nil || string(j.Fresh.Payload) != `{"n":1}` || j.Ref.Round != 0 || j.Ref.Number != 1 {
				t.Errorf("job %+v, want a first attempt carrying its message", j)
			}
		}
	}
	got := b.deliveries(ep)
	var ids []string
	for msgID, d := range got {
		if msgID == received.ID {
			continue
		}
		ids = append(ids, msgID)
		if d.Status != int(webhook.StatusPending) || d.Held || d.OrderingKey != nil || d.NextAttemptAt == nil {
			t.Errorf("created delivery %+v, want pending, due, unordered", d)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		t.Fatalf("deliveries created for %v, want %v", ids, want)
	}
}

// fieldFilters evaluates filters of the form "<key>" as: the payload's
// key is true; anything else cannot be evaluated.
type fieldFilters struct{}

func (fieldFilters) Matcher(m *webhook.Message) (func(string) (bool, error), error) {
	var payload map[string]any
	if err := json.Unmarshal(m.Payload, &payload); err != nil {
		return nil, err
	}
	return func(expr string) (bool, error) {
		v, ok := payload[expr].(bool)
		if !ok {
			return false, fmt.Errorf("no such key: %s", expr)
		}
		return v, nil
	}, nil
}

// Replay-missing applies the endpoint's payload filter as publishing
// does: a message it rejects, or cannot judge, is not sent.
func TestReplayMissingAppliesPayloadFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.exec(`DELETE FROM endpoints WHERE id = $1`, b.ep.ID)
	since := time.Now().Add(-time.Minute)
	var want []string
	for _, payload := range []string{`{"vip":true}`, `{"vip":false}`, `{"other":1}`, `{"vip":true,"n":2}`} {
		m := &webhook.Message{OrgID: b.org.ID, AppID: b.app.ID, EventType: "a", Payload: json.RawMessage(payload), RetentionDays: 90}
		if _, err := b.db.CreateMessage(b.ctx, m, ""); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(payload, `"vip":true`) {
			want = append(want, m.ID)
		}
	}
	ep := b.endpoint()
	b.exec(`UPDATE endpoints SET filter = 'vip' WHERE id = $1`, ep.ID)
	b.task(webhook.TaskEndpointReplay, background.ReplayParams{EndpointID: ep.ID, Since: since, Until: time.Now()})
	p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointReplay: &background.Replay{Store: b.db, Queue: &recordingQueue{}, Missing: true, Filters: fieldFilters{}},
	}}
	b.runTask(p)
	var got []string
	for msgID := range b.deliveries(ep) {
		got = append(got, msgID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries created for %v, want the two vip messages %v", got, want)
	}
}
