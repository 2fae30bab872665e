package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// eventTypeIn is the contract's EventTypeIn / EventTypeUpdate (name only on create).
type eventTypeIn struct {
	Name         *string         `json:"name"`
	Description  *string         `json:"description"`
	Archived     bool            `json:"archived"`
	Deprecated   bool            `json:"deprecated"`
	FeatureFlag  *string         `json:"featureFlag"`
	FeatureFlags []string        `json:"featureFlags"`
	GroupName    *string         `json:"groupName"`
	Schemas      json.RawMessage `json:"schemas"`
	// EnforceSchema is a hookd extension (kept when absent on PUT).
	EnforceSchema Opt[bool] `json:"enforceSchema"`
}

type eventTypePatch struct {
	Description  Opt[string]     `json:"description"`
	Archived     Opt[bool]       `json:"archived"`
	Deprecated   Opt[bool]       `json:"deprecated"`
	FeatureFlag  Opt[string]     `json:"featureFlag"`
	FeatureFlags Opt[[]string]   `json:"featureFlags"`
	GroupName    Opt[string]     `json:"groupName"`
	Schemas      json.RawMessage `json:"schemas"` // absent: nil; null: "null"
	// EnforceSchema is a hookd extension.
	EnforceSchema Opt[bool] `json:"enforceSchema"`
}

type eventTypeOut struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Archived     bool            `json:"archived"`
	Deprecated   bool            `json:"deprecated"`
	FeatureFlag  *string         `json:"featureFlag"`
	FeatureFlags []string        `json:"featureFlags,omitempty"`
	GroupName    *string         `json:"groupName"`
	Schemas      json.RawMessage `json:"schemas"`
	CreatedAt    time.Time       `json:"createdAt"`
	UpdatedAt    time.Time       `json:"updatedAt"`
	// EnforceSchema is a hookd extension: publishing a payload the newest
	// schema refuses is a 422.
	EnforceSchema bool `json:"enforceSchema"`
}

func eventTypeOutOf(et *webhook.EventType) eventTypeOut {
	out := eventTypeOut{
		Name: et.Name, Description: et.Description, Archived: et.Archived, Deprecated: et.Deprecated,
		FeatureFlag: et.FeatureFlag, FeatureFlags: et.FeatureFlags, GroupName: et.GroupName,
		Schemas: et.Schemas, CreatedAt: et.CreatedAt, UpdatedAt: et.UpdatedAt, EnforceSchema: et.EnforceSchema,
	}
	if len(out.Schemas) == 0 {
		out.Schemas = json.RawMessage("null")
	}
	return out
}

// apply replaces every field of et but its name with in, and validates the
// result, its schemas with sv.
func (in *eventTypeIn) apply(et *webhook.EventType, sv webhook.SchemaValidator) error {
	v := &webhook.ValidationError{}
	required(v, in.Description != nil, "body", "description")
	if in.Description != nil {
		et.Description = *in.Description
	}
	et.Archived, et.Deprecated = in.Archived, in.Deprecated
	et.FeatureFlag, et.FeatureFlags, et.GroupName = in.FeatureFlag, in.FeatureFlags, in.GroupName
	et.Schemas = in.Schemas
	if in.EnforceSchema.Set {
		et.EnforceSchema = in.EnforceSchema.V // null: false
	}
	if err := v.Err(); err != nil {
		return err
	}
	return validateEventType(et, sv)
}

// validateEventType checks et's fields, then that its schemas are valid
// JSON Schemas, and that one exists when it enforces its schema.
func validateEventType(et *webhook.EventType, sv webhook.SchemaValidator) error {
	if err := et.Validate(); err != nil {
		return err
	}
	if err := et.ValidateSchemas(sv); err != nil {
		return err
	}
	if _, ok := et.NewestSchema(); et.EnforceSchema && !ok {
		return webhook.Invalid("needs a schema to enforce: give schemas too", "body", "enforceSchema")
	}
	return nil
}

func (s *Server) listEventTypes(c *gin.Context) {
	opt, err := listOptions(c, true, func(s string) bool { return webhook.ValidName(s) && len(s) <= webhook.MaxEventTypeLength })
	if err != nil {
		fail(c, err)
		return
	}
	v := &webhook.ValidationError{}
	includeArchived := queryBool(c, "include_archived", false, v)
	withContent := queryBool(c, "with_content", false, v)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	p := principal(c)
	page, err := s.cfg.Store.ListEventTypes(c.Request.Context(), p.OrgID, p.EventTypeFilter(includeArchived), opt)
	if err != nil {
		fail(c, err)
		return
	}
	out := func(et *webhook.EventType) eventTypeOut {
		o := eventTypeOutOf(et)
		if !withContent {
			o.Schemas = json.RawMessage("null")
		}
		return o
	}
	c.PureJSON(http.StatusOK, newList(page, opt, out, func(et *webhook.EventType) string { return et.Name }))
}

func (s *Server) createEventType(c *gin.Context) {
	var in eventTypeIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	et := &webhook.EventType{OrgID: principal(c).OrgID}
	if in.Name == nil {
		fail(c, missing("body", "name"))
		return
	}
	et.Name = *in.Name
	if err := in.apply(et, s.cfg.Schemas); err != nil {
		fail(c, err)
		return
	}
	if err := s.cfg.Store.CreateEventType(c.Request.Context(), et); err != nil {
		fail(c, err)
		return
	}
	s.eventTypeChanged(et.OrgID)
	c.PureJSON(http.StatusCreated, eventTypeOutOf(et))
}

// visibleEventType finds the caller's event type named name, archived or
// not; one gated by a feature flag the app-portal token does not carry is
// ENOTFOUND to it, as one that does not exist.
func (s *Server) visibleEventType(c *gin.Context, name string) (*webhook.EventType, error) {
	p := principal(c)
	et, err := s.cfg.Store.FindEventType(c.Request.Context(), p.OrgID, name)
	if err == nil && !p.SeesEventType(et) {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "event type not found")
	}
	return et, err
}

// getEventType answers an event type, archived or not. One gated by a
// feature flag the app-portal token does not carry is a 404 to it.
func (s *Server) getEventType(c *gin.Context) {
	et, err := s.visibleEventType(c, c.Param("event_type_name"))
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, eventTypeOutOf(et))
}

// putEventType replaces the event type, or creates it (201) under the path's name.
func (s *Server) putEventType(c *gin.Context) {
	var in eventTypeIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	orgID, name := principal(c).OrgID, c.Param("event_type_name")
	et, err := s.cfg.Store.FindEventType(c.Request.Context(), orgID, name)
	status := http.StatusOK
	switch {
	case webhook.ErrorCode(err) == webhook.ENOTFOUND:
		et, status = &webhook.EventType{OrgID: orgID, Name: name}, http.StatusCreated
	case err != nil:
		fail(c, err)
		return
	}
	apply := func(et *webhook.EventType) error { return in.apply(et, s.cfg.Schemas) }
	if status == http.StatusCreated {
		if err = apply(et); err == nil {
			err = s.cfg.Store.CreateEventType(c.Request.Context(), et)
		}
	} else {
		err = s.cfg.Store.UpdateEventType(c.Request.Context(), et, apply)
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.eventTypeChanged(et.OrgID)
	c.PureJSON(status, eventTypeOutOf(et))
}

// apply changes the fields present in the patch and validates the result,
// its schemas with sv.
func (in *eventTypePatch) apply(et *webhook.EventType, sv webhook.SchemaValidator) error {
	v := &webhook.ValidationError{}
	for _, f := range []struct {
		set, null bool
		name      string
	}{
		{in.Description.Set, in.Description.Null, "description"},
		{in.Archived.Set, in.Archived.Null, "archived"},
		{in.Deprecated.Set, in.Deprecated.Null, "deprecated"},
	} {
		if f.set && f.null {
			v.Add("must not be null", "body", f.name)
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if in.Description.Set {
		et.Description = in.Description.V
	}
	if in.Archived.Set {
		et.Archived = in.Archived.V
	}
	if in.Deprecated.Set {
		et.Deprecated = in.Deprecated.V
	}
	if in.FeatureFlag.Set {
		et.FeatureFlag = in.FeatureFlag.Ptr()
	}
	if in.FeatureFlags.Set {
		et.FeatureFlags = in.FeatureFlags.V
	}
	if in.GroupName.Set {
		et.GroupName = in.GroupName.Ptr()
	}
	if in.Schemas != nil {
		et.Schemas = in.Schemas
	}
	if in.EnforceSchema.Set {
		et.EnforceSchema = in.EnforceSchema.V // null: false
	}
	return validateEventType(et, sv)
}

func (s *Server) patchEventType(c *gin.Context) {
	var in eventTypePatch
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	et := &webhook.EventType{OrgID: principal(c).OrgID, Name: c.Param("event_type_name")}
	apply := func(et *webhook.EventType) error { return in.apply(et, s.cfg.Schemas) }
	if err := s.cfg.Store.UpdateEventType(c.Request.Context(), et, apply); err != nil {
		fail(c, err)
		return
	}
	s.eventTypeChanged(et.OrgID)
	c.PureJSON(http.StatusOK, eventTypeOutOf(et))
}

// deleteEventType archives the event type, or removes it with expunge=true.
// checkVisibleFilter refuses, for an app-portal token, an endpoint filter
// that adds an event type gated by a feature flag the token does not carry:
// to the token it does not exist. Names already in before are kept.
func (s *Server) checkVisibleFilter(c *gin.Context, before []string, ep *webhook.Endpoint) error {
	p := principal(c)
	if p.AppID == "" || isOperational(c) {
		return nil
	}
	v := &webhook.ValidationError{}
	for i, name := range ep.FilterTypes {
		if slices.Contains(before, name) {
			continue
		}
		et, err := s.cfg.Store.FindEventType(c.Request.Context(), p.OrgID, name)
		if webhook.ErrorCode(err) == webhook.ENOTFOUND {
			continue // the store reports unknown names
		}
		if err != nil {
			return err
		}
		if !p.SeesEventType(et) {
			v.Add(fmt.Sprintf("event type %q does not exist", name), "body", "filterTypes", strconv.Itoa(i))
		}
	}
	return v.Err()
}

func (s *Server) deleteEventType(c *gin.Context) {
	v := &webhook.ValidationError{}
	expunge := queryBool(c, "expunge", false, v)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	orgID, name := principal(c).OrgID, c.Param("event_type_name")
	if expunge {
		if err := s.cfg.Store.DeleteEventType(c.Request.Context(), orgID, name); err != nil {
			fail(c, err)
			return
		}
		s.eventTypeChanged(orgID)
		noContent(c)
		return
	}
	et := &webhook.EventType{OrgID: orgID, Name: name}
	archive := func(et *webhook.EventType) error { et.Archived = true; return nil }
	if err := s.cfg.Store.UpdateEventType(c.Request.Context(), et, archive); err != nil {
		fail(c, err)
		return
	}
	s.eventTypeChanged(orgID)
	noContent(c)
}

// eventTypeChanged is called once a change of one of the organisation's
// event types is stored: the next publish reads which types enforce their
// schema afresh.
func (s *Server) eventTypeChanged(orgID string) {
	if s.cfg.Publisher != nil {
		s.cfg.Publisher.Forget(orgID, "")
	}
}
