package oauth

import (
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultMaxSources is PoolConfig.MaxSources when zero.
const DefaultMaxSources = 10_000

// PoolConfig configures a Pool.
type PoolConfig struct {
	// Options apply to every Source of the pool, except OnRefreshToken,
	// which the pool sets from its own OnRefreshToken.
	Options Options

	// MaxSources bounds the number of Sources kept; the least recently
	// used is dropped beyond it (its next use fetches a new token). Zero
	// or less means DefaultMaxSources.
	MaxSources int

	// OnRefreshToken, when set, is called with the endpoint's key when its
	// authorization server rotates its refresh token (see
	// Options.OnRefreshToken).
	OnRefreshToken func(key, refreshToken string)
}

// Pool keeps one Source per endpoint, so that every attempt to an
// endpoint in this process shares its token. It is safe for concurrent use.
type Pool struct {
	doer Doer
	cfg  PoolConfig

	mu      sync.Mutex
	sources *lru.Cache[string, pooled]
}

type pooled struct {
	fingerprint string
	source      *Source
}

// NewPool returns a Pool whose Sources send token requests with doer.
func NewPool(doer Doer, cfg PoolConfig) *Pool {
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = DefaultMaxSources
	}
	sources, _ := lru.New[string, pooled](cfg.MaxSources) // a positive size never fails
	return &Pool{doer: doer, cfg: cfg, sources: sources}
}

// Source returns the Source of the endpoint identified by key (e.g. its
// id) for cfg: the same Source as long as cfg is the same, a new one (with
// no token yet) when cfg changed in any field. It fails with Validate's
// *FieldError when cfg is invalid.
func (p *Pool) Source(key string, cfg Config) (*Source, error) {
	fp := cfg.fingerprint()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.sources.Get(key); ok && e.fingerprint == fp {
		return e.source, nil
	}
	opts := p.cfg.Options
	opts.OnRefreshToken = nil
	if f := p.cfg.OnRefreshToken; f != nil {
		opts.OnRefreshToken = func(rt string) { f(key, rt) }
	}
	s, err := NewSource(cfg, p.doer, opts)
	if err != nil {
		return nil, err
	}
	p.sources.Add(key, pooled{fingerprint: fp, source: s})
	return s, nil
}

// Forget drops the Source of key, e.g. when the endpoint's OAuth
// configuration is deleted.
func (p *Pool) Forget(key string) {
	p.sources.Remove(key)
}
