package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// Public keys of endpoints that sign with Ed25519 (docs/delivery.md):
// GET .../public-key for the endpoint's owner, and, when the operator
// enables HOOKD_PUBLISH_PUBLIC_KEYS, the same keys without authentication
// at /.well-known/webhook-keys/{app_id}/{endpoint_id}, so that receivers
// fetch keys instead of copying them.

// publicKeyOut answers GET .../public-key: the newest public key and every
// public key that signs deliveries now, as a JSON Web Key Set.
type publicKeyOut struct {
	Key  string           `json:"key"`
	JWKS signature.JWKSet `json:"jwks"`
}

// publicKeys returns the public halves of ep's Ed25519 keys that sign
// deliveries at now, newest first: the current key, then the rotated-out
// ones within their grace period.
func publicKeys(ep *webhook.Endpoint, now time.Time) []signature.PublicKey {
	var keys []signature.PublicKey
	for _, s := range ep.SigningSecrets(now) { // newest first
		if k, err := signature.ParsePrivateKey(s); err == nil {
			keys = append(keys, k.Public())
		}
	}
	return keys
}

// getPublicKey (GET .../public-key, a hookd extension) answers 404 for an
// endpoint that signs with HMAC only.
func (s *Server) getPublicKey(c *gin.Context) {
	keys := publicKeys(pathEndpoint(c), s.cfg.Now())
	if len(keys) == 0 {
		fail(c, webhook.Errorf(webhook.ENOTFOUND, "the endpoint signs with HMAC only: it has no public key"))
		return
	}
	c.PureJSON(http.StatusOK, publicKeyOut{Key: keys[0].String(), JWKS: signature.NewJWKSet(keys...)})
}

// Published key sets are kept briefly, so that a flood of requests for
// one endpoint reaches the database once per keySetTTL.
const (
	keySetTTL        = 10 * time.Second
	keySetCacheSize  = 10000
	keySetMaxAge     = "public, max-age=300"
	wellKnownKeysDir = "/.well-known/webhook-keys"
)

// notPublished is the one answer of the well-known route for anything but
// a published key set, so that it tells nothing about what exists.
var notPublished = httpError{Code: webhook.ENOTFOUND, Detail: "no published keys here"}

// publishedKeys serves /.well-known/webhook-keys/{app_id}/{endpoint_id}
// without authentication: the JSON Web Key Set of the endpoint's Ed25519
// keys that sign deliveries now. It answers the same 404 when publishing
// is off, for ids that are malformed or name nothing, for an endpoint that
// is not of that application, for operational-webhook endpoints and for
// an endpoint without an Ed25519 key. Only ids address endpoints here
// (uids are unique per application only, and guessable).
func (s *Server) publishedKeys(c *gin.Context) {
	appID, epID := c.Param("app_id"), c.Param("endpoint_id")
	if !s.cfg.PublishPublicKeys || !webhook.ValidID(webhook.PrefixApp, appID) || !webhook.ValidID(webhook.PrefixEndpoint, epID) {
		s.notPublished(c)
		return
	}
	body, err := s.keySets.Load([2]string{appID, epID}, func() ([]byte, error) {
		ep, err := s.cfg.Store.FindPublishedEndpoint(c.Request.Context(), appID, epID)
		if webhook.ErrorCode(err) == webhook.ENOTFOUND {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		keys := publicKeys(ep, s.cfg.Now())
		if len(keys) == 0 {
			return nil, nil
		}
		return json.Marshal(signature.NewJWKSet(keys...))
	})
	switch {
	case err != nil:
		fail(c, err)
	case body == nil:
		s.notPublished(c)
	default:
		c.Header("Cache-Control", keySetMaxAge)
		c.Data(http.StatusOK, "application/json", body)
	}
}

func (s *Server) notPublished(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(http.StatusNotFound, notPublished)
}

func newKeySetCache() *ttlcache.Cache[[2]string, []byte] {
	return ttlcache.New[[2]string, []byte](keySetTTL, keySetCacheSize)
}
