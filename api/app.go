package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

const appKey = "hookd.app"

// applicationIn is the contract's ApplicationIn (create and PUT).
// rateLimit is the SDKs' older name for throttleRate.
type applicationIn struct {
	Name         *string           `json:"name"`
	UID          Opt[string]       `json:"uid"`
	Metadata     map[string]string `json:"metadata"`
	ThrottleRate Opt[int]          `json:"throttleRate"`
	RateLimit    Opt[int]          `json:"rateLimit"`
}

// applicationPatch is the contract's ApplicationPatch: absent fields are kept.
type applicationPatch struct {
	Name         Opt[string]            `json:"name"`
	UID          Opt[string]            `json:"uid"`
	Metadata     Opt[map[string]string] `json:"metadata"`
	ThrottleRate Opt[int]               `json:"throttleRate"`
	RateLimit    Opt[int]               `json:"rateLimit"`
}

type applicationOut struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	Name         string            `json:"name"`
	Metadata     map[string]string `json:"metadata"`
	ThrottleRate *int              `json:"throttleRate"`
	RateLimit    *int              `json:"rateLimit"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

func appOut(a *webhook.Application) applicationOut {
	return applicationOut{
		ID: a.ID, UID: a.UID, Name: a.Name, Metadata: orEmpty(a.Metadata),
		ThrottleRate: a.ThrottleRate, RateLimit: a.ThrottleRate,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

// orEmpty returns m, or an empty map for nil: metadata is always an object,
// never null, even when a create or PUT left it out.
func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// rate picks throttleRate, falling back to the deprecated rateLimit.
func rate(throttle, limit Opt[int]) Opt[int] {
	if throttle.Set {
		return throttle
	}
	return limit
}

// checkRates validates throttleRate and its older name rateLimit where
// given (null removes the limit), so that an error names the field the
// client sent. A rate of 0 would mean "never deliver": it is refused.
func checkRates(throttle, limit Opt[int]) error {
	v := &webhook.ValidationError{}
	for _, r := range []struct {
		rate Opt[int]
		name string
	}{{throttle, "throttleRate"}, {limit, "rateLimit"}} {
		if r.rate.Set && !r.rate.Null && (r.rate.V < 1 || r.rate.V > webhook.MaxThrottleRate) {
			v.Add(fmt.Sprintf("must be between 1 and %d", webhook.MaxThrottleRate), "body", r.name)
		}
	}
	return v.Err()
}

// apply replaces every field of app with in (PUT and create semantics).
func (in *applicationIn) apply(app *webhook.Application) error {
	v := &webhook.ValidationError{}
	required(v, in.Name != nil, "body", "name")
	if in.Name != nil {
		app.Name = *in.Name
	}
	if in.UID.Set {
		// Left out, the uid is kept: a repeated PUT of /app/{uid} must find
		// the same application rather than clear its uid and create another.
		app.UID = in.UID.Ptr()
	}
	app.Metadata = in.Metadata
	app.ThrottleRate = rate(in.ThrottleRate, in.RateLimit).Ptr()
	if err := v.Err(); err != nil {
		return err
	}
	if err := checkRates(in.ThrottleRate, in.RateLimit); err != nil {
		return err
	}
	return app.Validate()
}

// withApp loads the path's application (by id or uid) for handler h.
func (s *Server) withApp(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		app, err := s.cfg.Store.FindApp(c.Request.Context(), p.OrgID, c.Param("app_id"))
		if err == nil && p.AppID != "" && app.ID != p.AppID {
			// A portal token sees no other application, not even that one exists.
			err = webhook.Errorf(webhook.ENOTFOUND, "application not found")
		}
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(appKey, app)
		h(c)
	}
}

func pathApp(c *gin.Context) *webhook.Application {
	return c.MustGet(appKey).(*webhook.Application)
}

func (s *Server) listApps(c *gin.Context) {
	opt, err := listOptions(c, true, validIDCursor(webhook.PrefixApp))
	if err != nil {
		fail(c, err)
		return
	}
	page, err := s.cfg.Store.ListApps(c.Request.Context(), principal(c).OrgID, opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, newList(page, opt, appOut, func(a *webhook.Application) string { return a.ID }))
}

func (s *Server) createApp(c *gin.Context) {
	v := &webhook.ValidationError{}
	getIfExists := queryBool(c, "get_if_exists", false, v)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	var in applicationIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	app := &webhook.Application{OrgID: principal(c).OrgID}
	if err := in.apply(app); err != nil {
		fail(c, err)
		return
	}
	if getIfExists && app.UID != nil {
		existing, err := s.cfg.Store.FindApp(c.Request.Context(), app.OrgID, *app.UID)
		if err == nil {
			c.PureJSON(http.StatusOK, appOut(existing))
			return
		}
		if webhook.ErrorCode(err) != webhook.ENOTFOUND {
			fail(c, err)
			return
		}
	}
	if err := s.cfg.Store.CreateApp(c.Request.Context(), app); err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusCreated, appOut(app))
}

func (s *Server) getApp(c *gin.Context) { c.PureJSON(http.StatusOK, appOut(pathApp(c))) }

// putApp replaces the application, or creates it (201) when the path names
// none; the path then becomes its uid unless the body gives one.
func (s *Server) putApp(c *gin.Context) {
	var in applicationIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	orgID := principal(c).OrgID
	app, err := s.cfg.Store.FindApp(c.Request.Context(), orgID, c.Param("app_id"))
	status := http.StatusOK
	switch {
	case webhook.ErrorCode(err) == webhook.ENOTFOUND:
		app, status = &webhook.Application{OrgID: orgID}, http.StatusCreated
	case err != nil:
		fail(c, err)
		return
	}
	if status == http.StatusCreated {
		err = in.apply(app)
		if err == nil && app.UID == nil {
			uid := c.Param("app_id")
			app.UID = &uid
			err = app.Validate()
		}
		if err == nil {
			err = s.cfg.Store.CreateApp(c.Request.Context(), app)
		}
	} else {
		err = s.cfg.Store.UpdateApp(c.Request.Context(), app, in.apply)
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(status, appOut(app))
}

// apply changes the fields present in the patch.
func (in *applicationPatch) apply(app *webhook.Application) error {
	if in.Name.Set {
		if in.Name.Null {
			return webhook.Invalid("must not be null", "body", "name")
		}
		app.Name = in.Name.V
	}
	if in.UID.Set {
		if in.UID.Set {
			// Left out, the uid is kept: a repeated PUT of /app/{uid} must find
			// the same application rather than clear its uid and create another.
			app.UID = in.UID.Ptr()
		}
	}
	if in.Metadata.Set {
		app.Metadata = in.Metadata.V
	}
	if r := rate(in.ThrottleRate, in.RateLimit); r.Set {
		app.ThrottleRate = r.Ptr()
	}
	if err := checkRates(in.ThrottleRate, in.RateLimit); err != nil {
		return err
	}
	return app.Validate()
}

func (s *Server) patchApp(c *gin.Context) {
	var in applicationPatch
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	app := pathApp(c)
	if err := s.cfg.Store.UpdateApp(c.Request.Context(), app, in.apply); err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, appOut(app))
}

func (s *Server) deleteApp(c *gin.Context) {
	app := pathApp(c)
	if err := s.cfg.Store.DeleteApp(c.Request.Context(), app.OrgID, app.ID); err != nil {
		fail(c, err)
		return
	}
	noContent(c)
}
