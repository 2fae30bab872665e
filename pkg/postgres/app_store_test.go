package postgres_test

import (
	"context"
	"testing"

	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

func TestAppStorePagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 5; i++ {
		app := &webhook.Application{OrgID: org.ID, Name: "a"}
		if err := db.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, app.ID)
	}
	page, err := db.ListApps(ctx, org.ID, webhook.ListOptions{Limit: 2, Ascending: true})
	if err != nil || len(page.Items) != 2 || !page.More || page.Items[0].ID != ids[0] {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = db.ListApps(ctx, org.ID, webhook.ListOptions{Limit: 2, Ascending: true, Cursor: ids[1]})
	if err != nil || len(page.Items) != 2 || page.Items[0].ID != ids[2] || page.Items[1].ID != ids[3] {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	page, err = db.ListApps(ctx, org.ID, webhook.ListOptions{Limit: 2, Ascending: true, Cursor: ids[2], Backward: true})
	if err != nil || len(page.Items) != 2 || page.Items[0].ID != ids[0] || page.Items[1].ID != ids[1] || page.More {
		t.Fatalf("backward page = %+v, %v", page, err)
	}
}
