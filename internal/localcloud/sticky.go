package localcloud

import (
	"net/http"
	"net/url"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// Session stickiness: every answer names the version that served it in a cookie, and a
// request that carries the cookie goes back to that version while the version serves
// (an attached healthy instance and, when weights are set, a positive weight). Otherwise
// the request is placed by weight and the cookie rewritten, so a detached, drained or
// rolled-back (weight 0) version loses its sessions at once and no request fails for it.
// Clients without cookies are placed by weight on every request.

// stickyVersion is the version a request's cookie asks for, or "".
func stickyVersion(req *http.Request) string {
	c, err := req.Cookie(api.CookieVersion)
	if err != nil {
		return ""
	}
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return ""
	}
	return v
}

// setSticky names the serving version in the answer's cookie, unless the request
// already carried that very cookie.
func setSticky(resp *http.Response, served, asked string) {
	if served == asked {
		return
	}
	// Escaped: a version may hold characters a cookie value cannot.
	c := &http.Cookie{Name: api.CookieVersion, Value: url.QueryEscape(served), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	resp.Header.Add("Set-Cookie", c.String())
}

// serves reports whether a sticky session may stay on version; callers hold Daemon.mu.
func serves(cands []*instance, weights map[string]int, version string) bool {
	if version == "" || (len(weights) > 0 && weights[version] <= 0) {
		return false
	}
	for _, c := range cands {
		if c.rec.Version == version {
			return true
		}
	}
	return false
}
