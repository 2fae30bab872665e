package api

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

const endpointKey = "hookd.endpoint"

// endpointIn is the contract's EndpointIn (create) and EndpointUpdate (PUT,
// which has no secret or headers). The SDKs call the event type filter
// filterTypes and the document eventTypes; both are accepted.
type endpointIn struct {
	URL          *string           `json:"url"`
	Description  string            `json:"description"`
	Disabled     bool              `json:"disabled"`
	FilterTypes  Opt[[]string]     `json:"filterTypes"`
	EventTypes   Opt[[]string]     `json:"eventTypes"`
	Channels     []string          `json:"channels"`
	Metadata     map[string]string `json:"metadata"`
	ThrottleRate Opt[int]          `json:"throttleRate"`
	RateLimit    Opt[int]          `json:"rateLimit"`
	UID          Opt[string]       `json:"uid"`
	Version      Opt[int]          `json:"version"`
	Secret       Opt[string]       `json:"secret"`
	Headers      map[string]string `json:"headers"`
	// Ordering is a hookd extension: "none" or "strict" (kept when absent).
	Ordering Opt[string] `json:"ordering"`

	// hookd extensions (docs/api.md): the type of a generated key, and
	// whether the endpoint proves control of its URL.
	SignatureType Opt[string] `json:"signatureType"`
	Verify        Opt[bool]   `json:"verify"`
	// Filter is a hookd extension: the payload filter, a CEL expression
	// (kept when absent on PUT; null or "" removes it).
	Filter Opt[string] `json:"filter"`
}

// endpointPatch is the contract's EndpointPatch: absent fields are kept,
// null clears nullable ones (a null secret generates a new one).
type endpointPatch struct {
	URL          Opt[string]            `json:"url"`
	Description  Opt[string]            `json:"description"`
	Disabled     Opt[bool]              `json:"disabled"`
	FilterTypes  Opt[[]string]          `json:"filterTypes"`
	EventTypes   Opt[[]string]          `json:"eventTypes"`
	Channels     Opt[[]string]          `json:"channels"`
	Metadata     Opt[map[string]string] `json:"metadata"`
	ThrottleRate Opt[int]               `json:"throttleRate"`
	RateLimit    Opt[int]               `json:"rateLimit"`
	UID          Opt[string]            `json:"uid"`
	Version      Opt[int]               `json:"version"`
	Secret       Opt[string]            `json:"secret"`
	Ordering     Opt[string]            `json:"ordering"`

	// hookd extensions, as in endpointIn.
	SignatureType Opt[string] `json:"signatureType"`
	Verify        Opt[bool]   `json:"verify"`
	Filter        Opt[string] `json:"filter"`
}

type endpointOut struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	URL          string            `json:"url"`
	Description  string            `json:"description"`
	Version      int               `json:"version"`
	Disabled     bool              `json:"disabled"`
	FilterTypes  []string          `json:"filterTypes"`
	EventTypes   []string          `json:"eventTypes"`
	Channels     []string          `json:"channels"`
	Metadata     map[string]string `json:"metadata"`
	ThrottleRate *int              `json:"throttleRate"`
	RateLimit    *int              `json:"rateLimit"`
	Ordering     string            `json:"ordering"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`

	// hookd extensions (docs/api.md).
	SignatureType signature.Type   `json:"signatureType"`
	Verification  *verificationOut `json:"verification"`
	Filter        *string          `json:"filter"`
}

// endpointOutOf shows ep. Credentials in its URL are masked.
func endpointOutOf(ep *webhook.Endpoint) endpointOut {
	return endpointOut{
		ID: ep.ID, UID: ep.UID, URL: egress.MaskUserinfo(ep.URL), Description: ep.Description, Version: ep.Version,
		Disabled: ep.Disabled, FilterTypes: ep.FilterTypes, EventTypes: ep.FilterTypes,
		Channels: ep.Channels, Metadata: orEmpty(ep.Metadata),
		ThrottleRate: ep.ThrottleRate, RateLimit: ep.ThrottleRate, Ordering: cmp.Or(ep.Ordering, webhook.OrderingNone),
		CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt,
		SignatureType: signatureTypeOf(ep.Secret), Verification: verificationOutOf(ep), Filter: filterOut(ep),
	}
}

// ordering applies an ordering field: absent keeps it, null is "none".
func ordering(ep *webhook.Endpoint, o Opt[string]) {
	switch {
	case o.Set && o.Null:
		ep.Ordering = webhook.OrderingNone
	case o.Set:
		ep.Ordering = o.V
	}
}

// filterTypes picks filterTypes, falling back to the document's eventTypes.
func filterTypes(filter, eventTypes Opt[[]string]) Opt[[]string] {
	if filter.Set {
		return filter
	}
	return eventTypes
}

// apply replaces every field of ep that in carries (create and PUT semantics).
func (in *endpointIn) apply(ep *webhook.Endpoint) {
	if in.URL != nil {
		ep.URL = unmaskURL(*in.URL, ep.URL)
	}
	ep.Description = in.Description
	ep.Disabled = in.Disabled
	ep.FilterTypes = filterTypes(in.FilterTypes, in.EventTypes).V
	ep.Channels = in.Channels
	ep.Metadata = in.Metadata
	ep.ThrottleRate = rate(in.ThrottleRate, in.RateLimit).Ptr()
	if in.UID.Set {
		ep.UID = in.UID.Ptr() // left out, it is kept, as for applications
	}
	ep.Version = 1
	if in.Version.Set && !in.Version.Null {
		ep.Version = in.Version.V
	}
	ordering(ep, in.Ordering)
	payloadFilter(ep, in.Filter)
}

func (s *Server) withEndpoint(h gin.HandlerFunc) gin.HandlerFunc {
	return s.withApp(func(c *gin.Context) {
		ep, err := s.cfg.Store.FindEndpoint(c.Request.Context(), pathApp(c), c.Param("endpoint_id"))
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(endpointKey, ep)
		h(c)
	})
}

func pathEndpoint(c *gin.Context) *webhook.Endpoint {
	return c.MustGet(endpointKey).(*webhook.Endpoint)
}

func (s *Server) listEndpoints(c *gin.Context) {
	opt, err := listOptions(c, false, validIDCursor(webhook.PrefixEndpoint))
	if err != nil {
		fail(c, err)
		return
	}
	page, err := s.cfg.Store.ListEndpoints(c.Request.Context(), pathApp(c), opt)
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, newList(page, opt, endpointOutOf, func(ep *webhook.Endpoint) string { return ep.ID }))
}

func (s *Server) createEndpoint(c *gin.Context) {
	in, err := bindEndpointIn(c)
	if err != nil {
		fail(c, err)
		return
	}
	app := pathApp(c)
	ep := &webhook.Endpoint{OrgID: app.OrgID, AppID: app.ID, Headers: in.Headers}
	in.apply(ep)
	err = s.setSecret(ep, in.Secret, in.SignatureType, "secret")
	if err == nil {
		err = s.validateEndpoint(c, ep)
	}
	if err == nil {
		err = s.applyVerification(c, nil, ep, in.Verify)
	}
	if err == nil {
		err = s.checkVisibleFilter(c, nil, ep)
	}
	if err == nil {
		err = s.cfg.Store.CreateEndpoint(c.Request.Context(), ep)
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.endpointChanged(c, webhook.EventEndpointCreated, ep)
	s.sendChallenge(c, nil, ep)
	c.PureJSON(http.StatusCreated, endpointOutOf(ep))
}

// bindEndpointIn decodes an EndpointIn / EndpointUpdate body, whose url is required.
func bindEndpointIn(c *gin.Context) (*endpointIn, error) {
	var in endpointIn
	if err := bind(c, &in); err != nil {
		return nil, err
	}
	if in.URL == nil {
		return nil, missing("body", "url")
	}
	if err := checkRates(in.ThrottleRate, in.RateLimit); err != nil {
		return nil, err
	}
	return &in, nil
}

// setSecret sets ep's signing key: the one given (see
// signature.NormalizeKey), or a new one of type typ (by default the
// installation's default type). A key given with a type must be of that
// type. field names the body field the key came from, for validation
// errors.
func (s *Server) setSecret(ep *webhook.Endpoint, secret, typ Opt[string], field string) error {
	key, err := s.newKey(secret, typ, s.cfg.SignatureType, field)
	if err == nil {
		ep.Secret = key
	}
	return err
}

// newKey returns the key given in secret, checked and normalised, or,
// when secret is absent or null, a new key of type typ, defaulting to def
// ("" means HMAC).
func (s *Server) newKey(secret, typ Opt[string], def signature.Type, field string) (string, error) {
	want := def
	if typ.Set && !typ.Null {
		t, err := signature.ParseType(typ.V)
		if err != nil {
			return "", webhook.Invalid(fmt.Sprintf("must be %q or %q", signature.TypeHMAC, signature.TypeEd25519), "body", "signatureType")
		}
		want = t
	}
	if secret.Set && !secret.Null {
		key, got, err := signature.NormalizeKey(secret.V)
		if err != nil {
			return "", webhook.Invalid(err.Error(), "body", field)
		}
		if typ.Set && !typ.Null && got != want {
			return "", webhook.Invalid(fmt.Sprintf("is %q but the %s given is an %s key", want, field, got), "body", "signatureType")
		}
		return key, nil
	}
	if want == "" {
		want = signature.TypeHMAC
	}
	key, err := signature.GenerateKey(want)
	if err != nil {
		return "", err
	}
	return key.String(), nil
}

// signatureTypeOf returns the type of a stored key.
func signatureTypeOf(key string) signature.Type {
	if strings.HasPrefix(key, signature.PrivateKeyPrefix) {
		return signature.TypeEd25519
	}
	return signature.TypeHMAC
}

// unmaskURL returns the URL an endpoint gets from a given one: given, or
// current when given is current as the API shows it (credentials masked),
// so that a client writing back what it read keeps the credentials.
func unmaskURL(given, current string) string {
	if current != "" && given != current && given == egress.MaskUserinfo(current) {
		return current
	}
	return given
}

// validateEndpoint checks ep; an operational-webhook endpoint's filter names
// operational event types (see operational.go).
func (s *Server) validateEndpoint(c *gin.Context, ep *webhook.Endpoint) error {
	var err error
	if isOperational(c) {
		err = ep.ValidateOperational(s.cfg.HTTPSOnly)
	} else {
		err = ep.Validate(s.cfg.HTTPSOnly)
	}
	if err != nil {
		return err
	}
	return s.checkFilter(ep.Filter)
}

func (s *Server) getEndpoint(c *gin.Context) {
	c.PureJSON(http.StatusOK, endpointOutOf(pathEndpoint(c)))
}

// putEndpoint replaces the endpoint's settings (not its secret or headers),
// or creates it (201) when the path names none; the path then becomes its uid.
func (s *Server) putEndpoint(c *gin.Context) {
	in, err := bindEndpointIn(c)
	if err != nil {
		fail(c, err)
		return
	}
	app := pathApp(c)
	var before *webhook.Endpoint // nil: created
	replace := func(ep *webhook.Endpoint) error {
		prev := *ep
		before = &prev
		in.apply(ep)
		if err := s.changeKeyType(ep, in.SignatureType); err != nil {
			return err
		}
		if err := s.validateEndpoint(c, ep); err != nil {
			return err
		}
		if err := s.checkVisibleFilter(c, prev.FilterTypes, ep); err != nil {
			return err
		}
		return s.applyVerification(c, before, ep, in.Verify)
	}
	ep, err := s.cfg.Store.FindEndpoint(c.Request.Context(), app, c.Param("endpoint_id"))
	status := http.StatusOK
	switch {
	case webhook.ErrorCode(err) == webhook.ENOTFOUND:
		status = http.StatusCreated
		ep = &webhook.Endpoint{OrgID: app.OrgID, AppID: app.ID}
		err = s.setSecret(ep, Opt[string]{}, in.SignatureType, "secret")
		if err == nil {
			in.apply(ep)
			if ep.UID == nil {
				uid := c.Param("endpoint_id")
				ep.UID = &uid
			}
			err = s.validateEndpoint(c, ep)
		}
		if err == nil {
			err = s.checkVisibleFilter(c, nil, ep)
		}
		if err == nil {
			err = s.applyVerification(c, nil, ep, in.Verify)
		}
		if err == nil {
			err = s.cfg.Store.CreateEndpoint(c.Request.Context(), ep)
		}
	case err == nil:
		err = s.cfg.Store.UpdateEndpoint(c.Request.Context(), ep, replace)
	}
	if err != nil {
		fail(c, err)
		return
	}
	event := webhook.EventEndpointUpdated
	if status == http.StatusCreated {
		event = webhook.EventEndpointCreated
	}
	s.endpointChanged(c, event, ep)
	s.sendChallenge(c, before, ep)
	c.PureJSON(status, endpointOutOf(ep))
}

// changeKeyType gives ep a new key of type typ, at once and without a
// grace period for the old one, when typ is given and differs from its
// key's type (secret/rotate switches types with a grace period).
func (s *Server) changeKeyType(ep *webhook.Endpoint, typ Opt[string]) error {
	if !typ.Set || typ.Null || typ.V == string(signatureTypeOf(ep.Secret)) {
		return nil
	}
	return s.setSecret(ep, Opt[string]{}, typ, "secret")
}

func (s *Server) patchEndpoint(c *gin.Context) {
	var in endpointPatch
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	ep := pathEndpoint(c)
	var before webhook.Endpoint
	err := s.cfg.Store.UpdateEndpoint(c.Request.Context(), ep, func(ep *webhook.Endpoint) error {
		before = *ep
		return s.applyPatch(c, &in, &before, ep)
	})
	if err != nil {
		fail(c, err)
		return
	}
	s.endpointChanged(c, webhook.EventEndpointUpdated, ep)
	s.sendChallenge(c, &before, ep)
	c.PureJSON(http.StatusOK, endpointOutOf(ep))
}

// applyPatch changes the fields present in the patch of ep (before is ep
// as it was) and validates the result.
func (s *Server) applyPatch(c *gin.Context, in *endpointPatch, before, ep *webhook.Endpoint) error {
	v := &webhook.ValidationError{}
	for _, f := range []struct {
		set, null bool
		name      string
	}{
		{in.URL.Set, in.URL.Null, "url"},
		{in.Description.Set, in.Description.Null, "description"},
		{in.Disabled.Set, in.Disabled.Null, "disabled"},
		{in.Metadata.Set, in.Metadata.Null, "metadata"},
		{in.Version.Set, in.Version.Null, "version"},
		{in.SignatureType.Set, in.SignatureType.Null, "signatureType"},
		{in.Verify.Set, in.Verify.Null, "verify"},
	} {
		if f.set && f.null {
			v.Add("must not be null", "body", f.name)
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := checkRates(in.ThrottleRate, in.RateLimit); err != nil {
		return err
	}
	if in.URL.Set {
		ep.URL = unmaskURL(in.URL.V, ep.URL)
	}
	if in.Description.Set {
		ep.Description = in.Description.V
	}
	if in.Disabled.Set {
		ep.Disabled = in.Disabled.V
	}
	if f := filterTypes(in.FilterTypes, in.EventTypes); f.Set {
		ep.FilterTypes = nilIfEmpty(f.V)
	}
	if in.Channels.Set {
		ep.Channels = nilIfEmpty(in.Channels.V)
	}
	if in.Metadata.Set {
		ep.Metadata = in.Metadata.V
	}
	if r := rate(in.ThrottleRate, in.RateLimit); r.Set {
		ep.ThrottleRate = r.Ptr()
	}
	if in.UID.Set {
		ep.UID = in.UID.Ptr()
	}
	if in.Version.Set {
		ep.Version = in.Version.V
	}
	ordering(ep, in.Ordering)
	payloadFilter(ep, in.Filter)
	var err error
	if in.Secret.Set {
		err = s.setSecret(ep, in.Secret, in.SignatureType, "secret")
	} else {
		err = s.changeKeyType(ep, in.SignatureType)
	}
	if err == nil {
		err = s.validateEndpoint(c, ep)
	}
	if err == nil {
		err = s.checkVisibleFilter(c, before.FilterTypes, ep)
	}
	if err == nil {
		err = s.applyVerification(c, before, ep, in.Verify)
	}
	return err
}

func (s *Server) deleteEndpoint(c *gin.Context) {
	ep := pathEndpoint(c)
	if err := s.cfg.Store.DeleteEndpoint(c.Request.Context(), ep); err != nil {
		fail(c, err)
		return
	}
	s.endpointChanged(c, webhook.EventEndpointDeleted, ep)
	noContent(c)
}

// nilIfEmpty lets a PATCH clear a list with [] as well as with null.
func nilIfEmpty(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return list
}
