package api

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

type secretOut struct {
	Key string `json:"key"`
}

type secretRotateIn struct {
	Key                Opt[string] `json:"key"`
	GracePeriodSeconds Opt[int64]  `json:"gracePeriodSeconds"`
	// SignatureType (a hookd extension) is the type of the key generated
	// when none is given; by default the current key's type.
	SignatureType Opt[string] `json:"signatureType"`
}

type headersIn struct {
	Headers map[string]string `json:"headers"`
}

// headersPatchIn is the contract's EndpointHeadersPatchIn: a null value
// removes a header. The SDKs remove headers by listing them in
// deleteHeaders instead; both are accepted.
type headersPatchIn struct {
	Headers       map[string]*string `json:"headers"`
	DeleteHeaders []string           `json:"deleteHeaders"`
}

type headersOut struct {
	Headers   map[string]string `json:"headers"`
	Sensitive []string          `json:"sensitive"`
}

// statsOut is the contract's EndpointStats (deliveries by status) and,
// as hookd extensions, the endpoint's health: its level, the start of its
// current run of failures, the attempts and failures of the last 24 hours,
// and per hour (24) and per day (30).
type statsOut struct {
	Success  int64 `json:"success"`
	Pending  int64 `json:"pending"`
	Sending  int64 `json:"sending"`
	Fail     int64 `json:"fail"`
	Canceled int64 `json:"canceled"`
	healthOut
	Hourly []bucketOut `json:"hourly"`
	Daily  []bucketOut `json:"daily"`
}

// healthOut is an endpoint's health (a hookd extension).
type healthOut struct {
	Health       webhook.Health `json:"health"`
	FailingSince *time.Time     `json:"failingSince"`
	Attempts24h  int64          `json:"attempts24h"`
	Failures24h  int64          `json:"failures24h"`
}

// bucketOut counts the attempts that started in an hour or a day.
type bucketOut struct {
	Start    time.Time `json:"start"`
	Attempts int64     `json:"attempts"`
	Failures int64     `json:"failures"`
}

func healthOutOf(h *webhook.EndpointHealth) healthOut {
	return healthOut{Health: h.Level(), FailingSince: h.FailingSince, Attempts24h: h.Attempts, Failures24h: h.Failures}
}

func bucketsOut(bs []webhook.HealthBucket) []bucketOut {
	out := make([]bucketOut, len(bs))
	for i, b := range bs {
		out[i] = bucketOut{Start: b.Start, Attempts: b.Attempts, Failures: b.Failures}
	}
	return out
}

// endpointHealthOut is one endpoint of GET /app/{app}/endpoint-health.
type endpointHealthOut struct {
	EndpointID string `json:"endpointId"`
	healthOut
}

// maxHealthEndpoints is how many endpoints GET /app/{app}/endpoint-health
// answers: the newest, as many as one page of the endpoint list.
const maxHealthEndpoints = 250

// listEndpointHealth serves GET /app/{app}/endpoint-health (a hookd
// extension): the health of the application's newest 250 endpoints,
// newest first, for the health dots of an endpoint list.
func (s *Server) listEndpointHealth(c *gin.Context) {
	hs, err := s.cfg.Store.AppEndpointHealth(c.Request.Context(), pathApp(c), s.cfg.Now(), maxHealthEndpoints)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]endpointHealthOut, len(hs))
	for i := range hs {
		out[i] = endpointHealthOut{EndpointID: hs[i].EndpointID, healthOut: healthOutOf(&hs[i])}
	}
	c.PureJSON(http.StatusOK, gin.H{"data": out})
}

func (s *Server) getSecret(c *gin.Context) {
	c.PureJSON(http.StatusOK, secretOut{Key: pathEndpoint(c).Secret})
}

// rotateSecret makes a new (given or generated) secret current; the old one
// keeps signing for gracePeriodSeconds (default 24 h, at most 7 days), and
// so do the ones rotated out before it, each until its own expiry. A 400
// limit_reached when MaxOldSecrets are still valid. The new key may be of
// the other type: during the grace period both sign, "v1" and "v1a"
// entries in one header.
func (s *Server) rotateSecret(c *gin.Context) {
	var in secretRotateIn
	if c.Request.ContentLength != 0 {
		if err := bind(c, &in); err != nil {
			fail(c, err)
			return
		}
	}
	grace := webhook.DefaultGracePeriod
	if g := in.GracePeriodSeconds; g.Set && !g.Null {
		// Compared in seconds: converting first would overflow for huge values.
		if g.V < 0 || g.V > int64(webhook.MaxGracePeriod/time.Second) {
			fail(c, webhook.Invalid("must be between 0 and 604800", "body", "gracePeriodSeconds"))
			return
		}
		grace = time.Duration(g.V) * time.Second
	}
	err := s.cfg.Store.UpdateEndpoint(c.Request.Context(), pathEndpoint(c), func(ep *webhook.Endpoint) error {
		key, err := s.newKey(in.Key, in.SignatureType, signatureTypeOf(ep.Secret), "key")
		if err != nil {
			return err
		}
		return ep.RotateSecret(key, grace, s.cfg.Now())
	})
	if err != nil {
		fail(c, err)
		return
	}
	noContent(c)
}

// getHeaders returns the custom headers; sensitive ones are listed by name
// in "sensitive" and their values withheld.
func (s *Server) getHeaders(c *gin.Context) {
	out := headersOut{Headers: map[string]string{}, Sensitive: []string{}}
	for name, value := range pathEndpoint(c).Headers {
		if webhook.IsSensitiveHeader(name) {
			out.Sensitive = append(out.Sensitive, name)
			continue
		}
		out.Headers[name] = value
	}
	slices.Sort(out.Sensitive)
	c.PureJSON(http.StatusOK, out)
}

func (s *Server) putHeaders(c *gin.Context) {
	var in headersIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Headers == nil {
		fail(c, missing("body", "headers"))
		return
	}
	s.saveHeaders(c, func(map[string]string) map[string]string { return in.Headers })
}

// patchHeaders removes the headers named in deleteHeaders, then sets the
// given headers and removes those given as null. Names match
// case-insensitively, as HTTP header names do.
func (s *Server) patchHeaders(c *gin.Context) {
	var in headersPatchIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Headers == nil {
		fail(c, missing("body", "headers"))
		return
	}
	v := &webhook.ValidationError{}
	seen := make(map[string]bool, len(in.Headers))
	for name := range in.Headers {
		if seen[strings.ToLower(name)] {
			v.Add("is given more than once, in different cases", "body", "headers", name)
		}
		seen[strings.ToLower(name)] = true
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	s.saveHeaders(c, func(current map[string]string) map[string]string {
		headers := maps.Clone(current)
		if headers == nil {
			headers = map[string]string{}
		}
		for _, name := range in.DeleteHeaders {
			deleteHeader(headers, name)
		}
		for name, value := range in.Headers {
			// Any other spelling goes, so a delivery never carries two values.
			deleteHeader(headers, name)
			if value != nil {
				headers[name] = *value
			}
		}
		return headers
	})
}

// deleteHeader removes every header of headers named name, in any case.
func deleteHeader(headers map[string]string, name string) {
	maps.DeleteFunc(headers, func(k, _ string) bool { return strings.EqualFold(k, name) })
}

// saveHeaders replaces the endpoint's headers by change(current headers),
// under the endpoint's row lock so concurrent changes are not lost.
func (s *Server) saveHeaders(c *gin.Context, change func(current map[string]string) map[string]string) {
	err := s.cfg.Store.UpdateEndpoint(c.Request.Context(), pathEndpoint(c), func(ep *webhook.Endpoint) error {
		headers := change(ep.Headers)
		v := &webhook.ValidationError{}
		webhook.CheckHeaders(v, headers, "body", "headers")
		ep.Headers = headers
		return v.Err()
	})
	if err != nil {
		fail(c, err)
		return
	}
	noContent(c)
}

// endpointStats counts deliveries in [since, until), by default the last
// 28 days, and answers the endpoint's health (hookd extensions, statsOut).
func (s *Server) endpointStats(c *gin.Context) {
	now := s.cfg.Now().UTC()
	since, until := now.Add(-28*24*time.Hour), now
	v := &webhook.ValidationError{}
	since = queryTime(c, "since", since, v)
	until = queryTime(c, "until", until, v)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	st, err := s.cfg.Store.EndpointStats(c.Request.Context(), pathEndpoint(c), since, until)
	if err != nil {
		fail(c, err)
		return
	}
	h, err := s.cfg.Store.EndpointHealth(c.Request.Context(), pathEndpoint(c), now)
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, statsOut{Success: st.Success, Pending: st.Pending, Sending: st.Sending, Fail: st.Fail, Canceled: st.Canceled,
		healthOut: healthOutOf(&h), Hourly: bucketsOut(h.Hourly), Daily: bucketsOut(h.Daily)})
}

// queryTime parses an RFC 3339 query parameter; absent gives def.
func queryTime(c *gin.Context, name string, def time.Time, v *webhook.ValidationError) time.Time {
	s := c.Query(name)
	if s == "" {
		return def
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.Add("must be an RFC 3339 date-time", "query", name)
		return def
	}
	return t
}

// failingOut is one delivery of GET /app/{app}/failing: the endpoint's
// message (EndpointMessageOut, without payload) and the endpoint's id.
type failingOut struct {
	EndpointID string `json:"endpointId"`
	endpointMessageOut
}

// Limits of GET /app/{app}/failing: deliveries per status.
const (
	defaultFailingLimit = 50
	maxFailingLimit     = 250
)

// listFailing serves GET /app/{app}/failing (a hookd extension): what is
// failing now in the application, for the console's "Failing now": the
// newest `limit` (default 50, at most 250) deliveries that are retrying
// (status 3) and the newest `limit` that ran out of retries (status 2),
// across its endpoints, newest message first. done is false when there are
// more of either.
func (s *Server) listFailing(c *gin.Context) {
	limit := defaultFailingLimit
	if q := c.Query("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			v := &webhook.ValidationError{}
			v.Add("must be a positive integer", "query", "limit")
			fail(c, v.Err())
			return
		}
		limit = min(n, maxFailingLimit)
	}
	ems, done, err := s.cfg.Store.FailingDeliveries(c.Request.Context(), pathApp(c), limit)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]failingOut, len(ems))
	for i := range ems {
		em := &ems[i]
		out[i] = failingOut{EndpointID: em.Delivery.EndpointID, endpointMessageOut: endpointMessageOut{
			messageOut: messageOutOf(&em.Message, false),
			Status:     int(em.Delivery.Status), StatusText: em.Delivery.Status.String(),
			NextAttempt: em.Delivery.NextAttemptAt, Reason: reasonOf(&em.Delivery),
		}}
	}
	c.PureJSON(http.StatusOK, gin.H{"data": out, "done": done})
}
