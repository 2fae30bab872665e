package oauth

import (
	"sync"
)

// DefaultMaxSources is PoolConfig.MaxSources when zero.
const DefaultMaxSources = 10_000

// PoolConfig configures a Pool.
type PoolConfig struct {
	// Options apply to every Source of the pool, except OnRefreshToken,
	// which the pool sets from its own OnRefreshToken.
	Options Options

	// MaxSources bounds the number of Sources kept; beyond it, an
	// arbitrary one is dropped (its endpoint's next attempt fetches a new
	// token, which is all it costs). Zero or less means DefaultMaxSources.
	MaxSources int

	// OnRefreshToken, when set, is called with the endpoint's key when its
	// authorization server rotates its refresh token, with the token used
	// and the new one (see Options.OnRefreshToken).
	OnRefreshToken func(key, old, new string)
}

// Pool keeps one Source per endpoint, so that every attempt to an
// endpoint in this process shares its token. It is safe for concurrent use.
type Pool struct {
	doer Doer
	cfg  PoolConfig

	mu      sync.Mutex
	sources map[string]pooled
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
	return &Pool{doer: doer, cfg: cfg, sources: map[string]pooled{}}
}

// Source returns the Source of the endpoint identified by key (e.g. its
// id) for cfg: the same Source as long as cfg is the same, a new one (with
// no token yet) when cfg changed in any field. A refresh token that the
// Source itself rotated to counts as the same, so that storing the rotated
// token (OnRefreshToken) does not cost a new token. It fails with
// Validate's *FieldError when cfg is invalid.
func (p *Pool) Source(key string, cfg Config) (*Source, error) {
	rt := cfg.RefreshToken
	cfg.RefreshToken = ""
	fp := cfg.fingerprint()
	cfg.RefreshToken = rt
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.sources[key]
	if ok && e.fingerprint == fp && e.source.knowsRefreshToken(rt) {
		return e.source, nil
	}
	opts := p.cfg.Options
	opts.OnRefreshToken = nil
	if f := p.cfg.OnRefreshToken; f != nil {
		opts.OnRefreshToken = func(old, new string) { f(key, old, new) }
	}
	s, err := NewSource(cfg, p.doer, opts)
	if err != nil {
		return nil, err
	}
	if !ok && len(p.sources) >= p.cfg.MaxSources {
		for victim := range p.sources {
			delete(p.sources, victim)
			break
		}
	}
	p.sources[key] = pooled{fingerprint: fp, source: s}
	return s, nil
}

// Forget drops the Source of key, e.g. when the endpoint's OAuth
// configuration is deleted.
func (p *Pool) Forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sources, key)
}
