package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// CreateMessage matches endpoints in SQL; it must choose exactly the
// endpoints webhook.Endpoint.Matches chooses, for every combination of
// event type filter, channels and disabled flag.
func TestCreateMessageMatchesLikeEndpointMatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if err := db.CreateEventType(ctx, &webhook.EventType{OrgID: org.ID, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	app := &webhook.Application{OrgID: org.ID, Name: "app"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	var eps []*webhook.Endpoint
	for _, filter := range [][]string{nil, {"a"}, {"a", "b"}, {"b"}} {
		for _, channels := range [][]string{nil, {"eu"}, {"eu", "us"}, {"us"}} {
			for _, disabled := range []bool{false, true} {
				ep := &webhook.Endpoint{
					OrgID: org.ID, AppID: app.ID, URL: "https://example.com/h", Version: 1,
					Secret:      "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
					FilterTypes: filter, Channels: channels, Disabled: disabled,
				}
				if err := db.CreateEndpoint(ctx, ep); err != nil {
					t.Fatal(err)
				}
				eps = append(eps, ep)
			}
		}
	}
	for _, eventType := range []string{"a", "b", "c"} {
		for _, channels := range [][]string{nil, {"eu"}, {"apac", "us"}, {"apac"}} {
			t.Run(fmt.Sprintf("%s%v", eventType, channels), func(t *testing.T) {
				msg := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: eventType, Channels: channels,
					Payload: json.RawMessage(`{}`), RetentionDays: webhook.DefaultRetentionDays}
				ds, err := db.CreateMessage(ctx, msg, "")
				if err != nil {
					t.Fatal(err)
				}
				var got, want []string
				for _, d := range ds {
					got = append(got, d.EndpointID)
				}
				for _, ep := range eps {
					if ep.Matches(msg) {
						want = append(want, ep.ID)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("CreateMessage chose %d endpoints, Matches %d:\n got %v\nwant %v", len(got), len(want), got, want)
				}
			})
		}
	}
}
