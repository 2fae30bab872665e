package egress

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDoSendsURLCredentialsAsBasicAuth(t *testing.T) {
	t.Parallel()
	type seen struct{ auth, uri string }
	got := make(chan seen, 1)
	s := startServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.RequestURI}
	}))
	host := strings.TrimPrefix(s.URL, "http://")
	c := New(Config{AllowedSubnets: loopbackOnly})

	tests := []struct {
		name     string
		url      string
		header   string // Authorization set on the request
		wantAuth string
	}{
		// Credentials become a Basic header, percent-decoded.
		{"user and password", "http://hookd:s3cret@" + host + "/hook", "", "Basic aG9va2Q6czNjcmV0"},
		{"escaped characters", "http://us%40er:p%3Ass%20w@" + host + "/hook", "", "Basic dXNAZXI6cDpzcyB3"}, // us@er:p:ss w
		{"user only", "http://apikey@" + host + "/hook", "", "Basic YXBpa2V5Og=="},                          // apikey:
		{"empty password", "http://apikey:@" + host + "/hook", "", "Basic YXBpa2V5Og=="},

		// An explicit Authorization header wins; the URL credentials are still dropped.
		{"explicit header wins", "http://hookd:s3cret@" + host + "/hook", "Bearer tok", "Bearer tok"},

		// No credentials, no header.
		{"none", "http://" + host + "/hook", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			before := req.URL.String()
			if _, err := c.Do(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s.auth != tt.wantAuth || s.uri != "/hook" {
				t.Errorf("receiver saw Authorization %q, request target %q; want %q and /hook", s.auth, s.uri, tt.wantAuth)
			}
			if req.URL.String() != before {
				t.Errorf("Do changed the caller's URL to %s", req.URL)
			}
		})
	}
}

func TestDoErrorHidesURLCredentials(t *testing.T) {
	// A server that never answers: the error is a timeout naming the host.
	t.Parallel()
	_, err := post(t, New(Config{AllowedSubnets: loopbackOnly, Timeout: 200 * time.Millisecond}), "http://hookd:s3cret@"+silentListener(t)[len("http://"):]+"hook")
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "hookd:") {
		t.Errorf("error %v must not show the credentials", err)
	}
}

func TestMaskUserinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		// The password is masked, the user name kept.
		{"https://user:secret@example.com/hook?x=1", "https://user:****@example.com/hook?x=1"},
		{"https://user:@example.com/", "https://user:****@example.com/"},
		{"http://us%40er:p%3Ass@example.com:8080/a/b", "http://us%40er:****@example.com:8080/a/b"},

		// A lone user name may be a key: masked whole.
		{"https://sk_live_123@example.com/hook", "https://****@example.com/hook"},

		// Without credentials, or unparseable: unchanged.
		{"https://example.com/hook", "https://example.com/hook"},
		{"https://example.com/a@b", "https://example.com/a@b"},
		{"%zz", "%zz"},
		{"", ""},

		// Scheme-relative.
		{"//user:secret@example.com/", "//user:****@example.com/"},
	}
	for _, tt := range tests {
		if got := MaskUserinfo(tt.in); got != tt.want {
			t.Errorf("MaskUserinfo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
