package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
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
	Schemas json.RawMessage
	// EnforceSchema makes publishing a message whose payload its newest
	// schema refuses a validation error (a hookd extension).
	EnforceSchema bool
	// RetrySchedule holds the delays between the attempts of its messages
	// in place of the installation's schedule; nil means that one. An
	// empty, non-nil schedule means one attempt and no retry.
	RetrySchedule []time.Duration
	CreatedAt     time.Time
	UpdatedAt     time.Time
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
	// Validate returns nil when doc is valid against schema, a
	// *SchemaError when it is not, and another error when schema is not a
	// valid JSON Schema.
	Validate(schema, doc json.RawMessage) error
}

// SchemaError is a document a JSON Schema refuses: the problems found, at
// most a handful.
type SchemaError struct {
	Problems []SchemaProblem
}

// SchemaProblem is one rule a document breaks.
type SchemaProblem struct {
	// Pointer is the JSON pointer (RFC 6901) of the value in the document,
	// "" for the document itself.
	Pointer string
	// Keyword is the schema keyword it breaks: "required", "minimum", ...
	Keyword string
	// Message says what is wrong, e.g. "minimum: got -1, want 0".
	Message string
}

func (e *SchemaError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = "at /" + strings.TrimPrefix(p.Pointer, "/") + ": " + p.Message
	}
	return strings.Join(parts, "; ")
}

// NewestSchema returns the schema of et's newest version: the highest
// number among its versions ("1", "2", ...; versions that are not numbers
// come after every number, the last by name). ok is false when et has no
// schema.
func (et *EventType) NewestSchema() (schema json.RawMessage, ok bool) {
	if len(et.Schemas) == 0 || string(et.Schemas) == "null" {
		return nil, false
	}
	var schemas map[string]json.RawMessage
	if json.Unmarshal(et.Schemas, &schemas) != nil || len(schemas) == 0 {
		return nil, false
	}
	newest := slices.MaxFunc(slices.Collect(maps.Keys(schemas)), compareVersions)
	return schemas[newest], true
}

// compareVersions orders schema versions: numbers by value, then others by name.
func compareVersions(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmpUint(na, nb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Limits of a retry schedule per event type.
const (
	MaxRetryScheduleLength = 50
	MinRetryDelay          = time.Second
	MaxRetryDelay          = 30 * 24 * time.Hour
)

// CheckRetrySchedule validates an event type's retry schedule: at most
// MaxRetryScheduleLength delays, each between MinRetryDelay and
// MaxRetryDelay. Problems are validation errors at loc (with the item's
// index).
func CheckRetrySchedule(schedule []time.Duration, loc ...string) error {
	v := &ValidationError{}
	if len(schedule) > MaxRetryScheduleLength {
		v.Add(fmt.Sprintf("must have at most %d items", MaxRetryScheduleLength), loc...)
	}
	for i, d := range schedule {
		if d < MinRetryDelay || d > MaxRetryDelay {
			v.Add(fmt.Sprintf("must be between %s and %s", MinRetryDelay, MaxRetryDelay),
				append(append([]string(nil), loc...), strconv.Itoa(i))...)
		}
	}
	return v.Err()
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
