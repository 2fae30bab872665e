package webhook

import (
	"context"
	"time"
)

// Application is a customer of the organisation: the owner of endpoints and
// the target of messages.
type Application struct {
	ID    string
	OrgID string
	// UID is an optional caller-chosen identifier, unique per organisation;
	// the app can be addressed by it wherever an ID is accepted.
	UID          *string
	Name         string
	Metadata     map[string]string
	ThrottleRate *int // nil: unlimited
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Validate checks the application against the contract's rules.
func (a *Application) Validate() error {
	v := &ValidationError{}
	if a.Name == "" {
		v.Add("must not be empty", "body", "name")
	}
	checkText(v, a.Name, "body", "name")
	checkUID(v, a.UID, "body", "uid")
	checkMetadata(v, a.Metadata, "body", "metadata")
	checkThrottle(v, a.ThrottleRate, 1, "body", "throttleRate")
	return v.Err()
}

// AppStore persists applications. Every method is scoped to one organisation;
// another organisation's application answers ENOTFOUND.
type AppStore interface {
	// CreateApp inserts app (ID and timestamps are set by the store);
	// a taken uid is ECONFLICT.
	CreateApp(ctx context.Context, app *Application) error
	// FindApp returns the app whose id or uid is idOrUID (id wins); ENOTFOUND if none.
	FindApp(ctx context.Context, orgID, idOrUID string) (*Application, error)
	// ListApps pages through the organisation's apps, oldest first by default.
	ListApps(ctx context.Context, orgID string, opt ListOptions) (Page[Application], error)
	// UpdateApp locks the stored app (identified by app's OrgID and ID),
	// reloads it into app, applies change (nil: keep app as given) and saves
	// every field, in one transaction; a taken uid is ECONFLICT and an error
	// from change is returned as is, saving nothing.
	UpdateApp(ctx context.Context, app *Application, change func(*Application) error) error
	// DeleteApp deletes the app and everything that belongs to it.
	DeleteApp(ctx context.Context, orgID, id string) error
}
