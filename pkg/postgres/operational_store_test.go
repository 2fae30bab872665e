package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

func TestOperationalAppIsCreatedOnceAndHidden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.OperationalApp(ctx, org.ID, false); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Fatalf("OperationalApp before first use: %v, want not_found", err)
	}
	if subs, err := db.OperationalSubscriptions(ctx, org.ID); err != nil || subs.AppID != "" || len(subs.Filters) != 0 {
		t.Fatalf("subscriptions before first use = %+v, %v", subs, err)
	}

	// Concurrent first uses agree on one application.
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			app, err := db.OperationalApp(ctx, org.ID, true)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = app.ID
		})
	}
	wg.Wait()
	distinct := slices.Clone(ids)
	slices.Sort(distinct)
	if distinct = slices.Compact(distinct); len(distinct) != 1 || ids[0] == "" {
		t.Fatalf("concurrent OperationalApp returned %v, want one id", ids)
	}
	internal, err := db.OperationalApp(ctx, org.ID, false)
	if err != nil || internal.ID != ids[0] {
		t.Fatalf("OperationalApp = %+v, %v", internal, err)
	}

	// The application store never sees it.
	user := &webhook.Application{OrgID: org.ID, Name: "user"}
	if err := db.CreateApp(ctx, user); err != nil {
		t.Fatal(err)
	}
	page, err := db.ListApps(ctx, org.ID, webhook.ListOptions{Limit: 50, Ascending: true})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != user.ID {
		t.Fatalf("ListApps = %+v, %v; want only the user's app", page, err)
	}
	for _, idOrUID := range []string{internal.ID, *internal.UID} {
		if _, err := db.FindApp(ctx, org.ID, idOrUID); webhook.ErrorCode(err) != webhook.ENOTFOUND {
			t.Errorf("FindApp(%q) = %v, want not_found", idOrUID, err)
		}
	}
	if err := db.UpdateApp(ctx, internal, nil); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Errorf("UpdateApp(internal) = %v, want not_found", err)
	}
	if err := db.DeleteApp(ctx, org.ID, internal.ID); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Errorf("DeleteApp(internal) = %v, want not_found", err)
	}
}

func TestOperationalSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	app, err := db.OperationalApp(ctx, org.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	newEndpoint := func(filter []string, disabled bool) *webhook.Endpoint {
		t.Helper()
		ep := &webhook.Endpoint{
			OrgID: org.ID, AppID: app.ID, URL: "https://example.com/ops", Version: 1,
			FilterTypes: filter, Disabled: disabled, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		}
		// Operational event types are no event types of the organisation:
		// the store accepts them for the internal application.
		if err := db.CreateEndpoint(ctx, ep); err != nil {
			t.Fatalf("creating operational endpoint with filter %v: %v", filter, err)
		}
		return ep
	}
	if subs, err := db.OperationalSubscriptions(ctx, org.ID); err != nil || subs.AppID != "" {
		t.Fatalf("subscriptions without endpoints = %+v, %v", subs, err)
	}
	newEndpoint([]string{webhook.EventEndpointDisabled}, false)
	newEndpoint(nil, true) // disabled: takes nothing
	subs, err := db.OperationalSubscriptions(ctx, org.ID)
	if err != nil || subs.AppID != app.ID || len(subs.Filters) != 1 {
		t.Fatalf("subscriptions = %+v, %v", subs, err)
	}
	if !subs.Wants(webhook.EventEndpointDisabled) || subs.Wants(webhook.EventEndpointCreated) {
		t.Fatalf("subscriptions %+v want the wrong types", subs)
	}
	ep := newEndpoint(nil, false)
	if subs, _ = db.OperationalSubscriptions(ctx, org.ID); !subs.Wants(webhook.EventEndpointCreated) {
		t.Fatalf("an endpoint without filter should take every type: %+v", subs)
	}

	// The store still checks the filters of ordinary applications.
	err = db.UpdateEndpoint(ctx, ep, func(ep *webhook.Endpoint) error {
		ep.FilterTypes = []string{webhook.EventEndpointUpdated}
		return nil
	})
	if err != nil {
		t.Fatalf("updating operational endpoint's filter: %v", err)
	}
	user := &webhook.Application{OrgID: org.ID, Name: "user"}
	if err := db.CreateApp(ctx, user); err != nil {
		t.Fatal(err)
	}
	userEp := &webhook.Endpoint{
		OrgID: org.ID, AppID: user.ID, URL: "https://example.com/h", Version: 1,
		FilterTypes: []string{webhook.EventEndpointCreated}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	}
	if err := db.CreateEndpoint(ctx, userEp); webhook.ErrorCode(err) != webhook.EINVALID {
		t.Fatalf("user endpoint filtering on an unknown event type: %v, want validation error", err)
	}
}
