package postgres_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// Whatever a receiver answered, recording the attempt succeeds and reads
// back as storable text: the repro was a body "ok\x00", which
// PostgreSQL refused, so the attempt was never recorded and was sent again
// and again.
func TestRecordAttemptStoresAnyResponseBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	org, _ := db.EnsureOrg(ctx, "acme")
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: "https://example.com/h", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	if err := db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	msg := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: "a", Payload: json.RawMessage(`{}`), RetentionDays: 90}
	ds, err := db.CreateMessage(ctx, msg, "")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 20<<10)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}

	for i, tt := range []struct {
		name string
		body string
		want string // "" means: whatever StorableText makes of body
	}{
		{"NUL at the end", "ok\x00", "ok\uFFFD\n[hookd: 1 byte(s) of this answer were NUL or not valid UTF-8; each is shown as U+FFFD]"},
		{"only NUL (a gzip bomb of zeros)", strings.Repeat("\x00", 20<<10), ""},
		{"invalid UTF-8", "caf\xe9 \xff\xfe", ""},
		{"UTF-16 surrogate", "\xed\xa0\x80", ""},
		{"20 KiB of random bytes", string(random), ""},
		{"valid text is kept", "héllo \u2028 🎉", "héllo \u2028 🎉"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &webhook.AttemptRecord{
				Attempt: webhook.Attempt{DeliveryID: ds[0].ID, OrgID: org.ID, AppID: app.ID, MessageID: msg.ID,
					EndpointID: ep.ID, URL: ep.URL, Status: webhook.StatusFail, StatusCode: 500,
					Response: tt.body, TriggerType: webhook.TriggerManual},
				TaskKey: "m:" + string(rune('a'+i)), Number: 1, Transition: webhook.ManualFailed,
			}
			ok, err := db.RecordAttempt(ctx, rec)
			if err != nil || !ok {
				t.Fatalf("RecordAttempt = %v, %v", ok, err)
			}
			got, err := db.FindAttempt(ctx, msg, rec.Attempt.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = webhook.StorableText([]byte(tt.body))
			}
			if got.Response != want {
				t.Errorf("response read back = %.80q..., want %.80q...", got.Response, want)
			}
			if !utf8.ValidString(got.Response) || strings.Contains(got.Response, "\x00") {
				t.Errorf("response read back is not valid text: %.80q", got.Response)
			}
		})
	}
}
