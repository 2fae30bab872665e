package webhook

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// EventType names a kind of message an organisation sends.
type EventType struct {
	OrgID        string
	Name         string
	Description  string
	Archived     bool
	Deprecated   bool
	FeatureFlag  *string
	FeatureFlags []string
	GroupName    *string
	// Schemas maps a version to a JSON schema, stored exactly as given
	// (raw JSON object); nil when none.
	Schemas   json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate checks the event type against the contract's rules.
func (et *EventType) Validate() error {
	v := &ValidationError{}
	checkName(v, et.Name, MaxEventTypeLength, "body", "name")
	checkText(v, et.Description, "body", "description")
	if et.FeatureFlag != nil {
		checkName(v, *et.FeatureFlag, MaxFeatureFlagLength, "body", "featureFlag")
	}
	if et.FeatureFlags != nil {
		checkList(v, et.FeatureFlags, MaxFeatureFlagLength, 0, 0, "body", "featureFlags")
	}
	if et.GroupName != nil {
		checkName(v, *et.GroupName, MaxEventTypeLength, "body", "groupName")
	}
	if len(et.Schemas) > 0 && string(et.Schemas) != "null" {
		var schemas map[string]json.RawMessage
		if err := json.Unmarshal(et.Schemas, &schemas); err != nil {
			v.Add("must be an object mapping versions to JSON schema objects", "body", "schemas")
		}
		for version, s := range schemas {
			var obj map[string]json.RawMessage
			if json.Unmarshal(s, &obj) != nil || obj == nil {
				v.Add("must be a JSON schema object", "body", "schemas", version)
			}
		}
	}
	return v.Err()
}

// EventTypeFilter narrows a list of event types.
type EventTypeFilter struct {
	IncludeArchived bool
	// OnlyFlags (app-portal tokens) hides the event types gated by feature
	// flags none of which is in Flags, as Principal.SeesEventType does.
	OnlyFlags bool
	Flags     []string
}

// EventTypeStore persists event types, scoped to one organisation.
type EventTypeStore interface {
	// CreateEventType inserts et; an existing non-archived name is ECONFLICT,
	// an archived one is replaced by et (the contract's way to unarchive).
	CreateEventType(ctx context.Context, et *EventType) error
	// FindEventType returns the event type by name, archived or not.
	FindEventType(ctx context.Context, orgID, name string) (*EventType, error)
	// ListEventTypes pages through event types by name.
	ListEventTypes(ctx context.Context, orgID string, f EventTypeFilter, opt ListOptions) (Page[EventType], error)
	// UpdateEventType locks the stored event type (by OrgID and Name),
	// reloads it into et, applies change (nil: keep et as given) and saves
	// every field, in one transaction.
	UpdateEventType(ctx context.Context, et *EventType, change func(*EventType) error) error
	// DeleteEventType removes the event type for good.
	DeleteEventType(ctx context.Context, orgID, name string) error
}

// SchemaValidator checks JSON Schemas and documents against them
// (implemented by pkg/jsonschema). Its errors' messages are safe to show.
type SchemaValidator interface {
	// CheckSchema returns nil when schema is a valid JSON Schema.
	CheckSchema(schema json.RawMessage) error
	// Validate returns nil when doc is valid against schema.
	Validate(schema, doc json.RawMessage) error
}

// ValidateSchemas checks that each version's schema is a valid JSON Schema;
// a problem is a validation error at body.schemas.<version>. Call it after
// Validate, which checks the shape of Schemas.
func (et *EventType) ValidateSchemas(sv SchemaValidator) error {
	if len(et.Schemas) == 0 || string(et.Schemas) == "null" {
		return nil
	}
	var schemas map[string]json.RawMessage
	if err := json.Unmarshal(et.Schemas, &schemas); err != nil {
		return Invalid("must be an object mapping versions to JSON schema objects", "body", "schemas")
	}
	versions := slices.Sorted(maps.Keys(schemas))
	v := &ValidationError{}
	for _, version := range versions {
		if err := sv.CheckSchema(schemas[version]); err != nil {
			v.Add(err.Error(), "body", "schemas", version)
		}
	}
	return v.Err()
}
