package egress

import (
	"net/http"
	"net/url"
	"strings"
)

// moveUserinfo turns the credentials of req's URL, if any, into an
// "Authorization: Basic" header (unless req already has Authorization) and
// removes them from the URL, so that they appear in no request line, error
// or log. The user name and password are sent percent-decoded, as browsers
// and curl send them.
func moveUserinfo(req *http.Request) {
	u := req.URL.User
	if u == nil {
		return
	}
	if req.Header.Get("Authorization") == "" {
		password, _ := u.Password()
		req.SetBasicAuth(u.Username(), password)
	}
	req.URL.User = nil
}

// MaskUserinfo returns rawURL with its password replaced by "****"
// ("https://user:****@host/path"), or, when the URL has a user name and no
// password, with the user name replaced ("https://****@host/path"): a lone
// user name is often an API key. Everything else is kept as it was. A URL
// without credentials, or one that does not parse, is returned unchanged.
// The API shows endpoint URLs through it.
func MaskUserinfo(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	masked := "****"
	if _, hasPassword := u.User.Password(); hasPassword {
		masked = url.User(u.User.Username()).String() + ":****"
	}
	// url.Userinfo would escape the asterisks.
	u.User = nil
	prefix := "//"
	if u.Scheme != "" {
		prefix = u.Scheme + "://"
	}
	return prefix + masked + "@" + strings.TrimPrefix(u.String(), prefix)
}
