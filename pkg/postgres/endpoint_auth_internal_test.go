package postgres

import "testing"

func TestSplitUserinfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, rest, userinfo string }{
		{"https://example.com/hook", "https://example.com/hook", ""},
		{"https://user:pass@example.com/hook?q=1", "https://example.com/hook?q=1", "user:pass"},
		{"https://key@example.com", "https://example.com", "key"},
		{"http://u%40x:p%3Aw@example.com:8080/a@b?c=@#f", "http://example.com:8080/a@b?c=@#f", "u%40x:p%3Aw"},
		{"https://a@b@example.com/", "https://example.com/", "a@b"},
		{"https://example.com/path@notuser", "https://example.com/path@notuser", ""},
		{"https://example.com?x=a@b", "https://example.com?x=a@b", ""},
		{"not a url", "not a url", ""},
	} {
		rest, userinfo := splitUserinfo(tc.in)
		if rest != tc.rest || userinfo != tc.userinfo {
			t.Errorf("splitUserinfo(%q) = %q, %q; want %q, %q", tc.in, rest, userinfo, tc.rest, tc.userinfo)
		}
		if back := joinUserinfo(rest, userinfo); back != tc.in {
			t.Errorf("joinUserinfo(splitUserinfo(%q)) = %q", tc.in, back)
		}
	}
}
