package localcloud

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// Session stickiness by bucket, as percentage rollouts do it. The load balancer gives
// each client a bucket in [0, api.Buckets) in a cookie, and lays the serving versions
// (sorted by name) end to end over the buckets, each over its share. A request that
// carries a bucket goes to the version whose range holds it:
//
//   - a user stays on its version while the shares stay put, and when the canary's share
//     grows only users of the stable version move to it, never back: a user that reached
//     the canary at 1 % is still on it at 5, 25 and 50 %;
//   - a version that stops serving (weight 0, as a rollback sets, or no attached healthy
//     instance) has no range, so its users move at once and no request fails for it;
//   - users keep the share the weights ask for, as users, not only as requests.
//
// A request without a bucket is placed by the weighted round robin, so clients that keep
// no cookies get the exact share per request, and is then given a random bucket in the
// range of the version that served it, so its next request lands there again.

// versionShare is a serving version and its share, the unit of the bucket layout.
type versionShare struct {
	version string
	share   int
}

// bucketLayout is the serving versions and their shares: the weights of versions with an
// eligible instance, or their eligible instance counts when no weights are set (an equal
// share per instance). Callers hold Daemon.mu.
func bucketLayout(cands []*instance, weights map[string]int) []versionShare {
	count := map[string]int{}
	for _, c := range cands {
		count[c.rec.Version]++
	}
	var out []versionShare
	for _, v := range slices.Sorted(maps.Keys(count)) {
		share := count[v]
		if len(weights) > 0 {
			share = weights[v]
		}
		if share > 0 {
			out = append(out, versionShare{v, share})
		}
	}
	return out
}

// versionOfBucket is the version whose range holds bucket b, "" when none serves.
func versionOfBucket(layout []versionShare, b int) string {
	total := 0
	for _, s := range layout {
		total += s.share
	}
	acc := 0
	for _, s := range layout {
		acc += s.share
		if b*total < acc*api.Buckets {
			return s.version
		}
	}
	return ""
}

// bucketIn is a random bucket of version's range (the layout holds version).
func bucketIn(layout []versionShare, version string) int {
	total := 0
	for _, s := range layout {
		total += s.share
	}
	acc := 0
	for _, s := range layout {
		if s.version == version {
			// Buckets b with acc*B <= b*total < (acc+share)*B.
			lo := (acc*api.Buckets + total - 1) / total
			hi := ((acc+s.share)*api.Buckets + total - 1) / total
			if hi > lo {
				return lo + rand.IntN(hi-lo)
			}
			return lo
		}
		acc += s.share
	}
	return rand.IntN(api.Buckets)
}

// requestBucket is the bucket a request's cookie carries, or -1.
func requestBucket(req *http.Request) int {
	c, err := req.Cookie(api.CookieBucket)
	if err != nil {
		return -1
	}
	b, err := strconv.Atoi(c.Value)
	if err != nil || b < 0 || b >= api.Buckets {
		return -1
	}
	return b
}

// setBucket gives the client its bucket.
func setBucket(resp *http.Response, b int) {
	c := &http.Cookie{Name: api.CookieBucket, Value: strconv.Itoa(b), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	resp.Header.Add("Set-Cookie", c.String())
}
