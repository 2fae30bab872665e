package receivertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TokenServer is an OAuth2 token endpoint on 127.0.0.1 for the
// clientCredentials and refreshToken grants, with client authentication by
// Basic (clientSecretBasic) or form fields (clientSecretPost). It issues
// tokens "token-1", "token-2", ... valid for an hour, and knows which it
// issued.
type TokenServer struct {
	*httptest.Server
	ClientID, ClientSecret string

	mu sync.Mutex
	// refreshToken is the one the refreshToken grant accepts; "" accepts none.
	refreshToken string
	// rotate makes each refresh give a new refresh token.
	rotate  bool
	issued  []string
	grants  []string
	failing bool
}

// NewTokenServer starts a TokenServer for one client; it stops when t ends.
func NewTokenServer(t testing.TB, clientID, clientSecret string) *TokenServer {
	t.Helper()
	s := &TokenServer{ClientID: clientID, ClientSecret: clientSecret}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// TokenURL is the token endpoint's URL.
func (s *TokenServer) TokenURL() string { return s.URL + "/oauth/token" }

// AcceptRefreshToken makes the refreshToken grant accept rt; with rotate,
// every refresh answers a new refresh token ("<rt>-1", ...) and accepts
// only that one next.
func (s *TokenServer) AcceptRefreshToken(rt string, rotate bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshToken, s.rotate = rt, rotate
}

// RefreshToken returns the refresh token the server accepts now.
func (s *TokenServer) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshToken
}

// Fail makes every token request fail with 400 invalid_client (or work again).
func (s *TokenServer) Fail(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

// Issued returns the tokens issued so far, in order.
func (s *TokenServer) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Grants returns the grant_type of each token request so far.
func (s *TokenServer) Grants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.grants...)
}

// Valid reports whether "Bearer <token>" carries a token the server issued.
func (s *TokenServer) Valid(authorization string) bool {
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.issued {
		if ok && t == token {
			return true
		}
	}
	return false
}

// Revoke forgets every issued token: they are no longer Valid.
func (s *TokenServer) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued = []string{fmt.Sprintf("revoked-%d", len(s.issued))}
}

func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" || r.ParseForm() != nil {
		http.Error(w, "not a token request", http.StatusBadRequest)
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	grant := r.PostForm.Get("grant_type")
	s.grants = append(s.grants, grant)
	answer := map[string]any{"token_type": "Bearer", "expires_in": 3600}
	switch {
	case s.failing || id != s.ClientID || secret != s.ClientSecret:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	case grant == "refresh_token" && (s.refreshToken == "" || r.PostForm.Get("refresh_token") != s.refreshToken):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "unknown refresh token"})
		return
	case grant == "refresh_token" && s.rotate:
		s.refreshToken = fmt.Sprintf("%s-%d", s.refreshToken, len(s.grants))
		answer["refresh_token"] = s.refreshToken
	case grant != "client_credentials" && grant != "refresh_token":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	token := fmt.Sprintf("token-%d", len(s.grants))
	s.issued = append(s.issued, token)
	answer["access_token"] = token
	writeJSON(w, http.StatusOK, answer)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
