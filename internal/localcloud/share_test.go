//go:build unix

package localcloud_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
)

// canaryShares are the steps of a typical canary.traffic.
var canaryShares = []int{1, 5, 25, 50}

// stableAndCanary starts two stable instances (v1) and one canary (v2), attached and
// healthy, and returns the version of each instance ID.
func stableAndCanary(t *testing.T, d *localcloudtest.Daemon, canaries int) (stable, canary []api.Instance, version map[string]string) {
	t.Helper()
	stable = launch(t, d, "stable", "v1", 2, nil)
	canary = launch(t, d, "canary", "v2", canaries, nil)
	all := append(append([]api.Instance{}, stable...), canary...)
	attach(t, d, all...)
	waitHealthy(t, d, all...)
	version = map[string]string{}
	for _, in := range all {
		version[in.ID] = in.Version
	}
	return stable, canary, version
}

func setShare(t *testing.T, d *localcloudtest.Daemon, canaryPercent int) {
	t.Helper()
	ok(t, d, http.MethodPut, api.PathWeights, map[string]int{"v1": 100 - canaryPercent, "v2": canaryPercent})
}

// TestWeightsGiveTheCanaryItsExactShare: the share is not a probability but a count.
// The balancer's weighted round robin serves each version exactly its weight's number
// of requests in every 100 (the sum of the weights), so 200 requests at 5 % are 10 on
// the canary, not 10 give or take 3 as a weighted coin would give. The daemon's own
// count of routed answers says the same as the client's.
func TestWeightsGiveTheCanaryItsExactShare(t *testing.T) {
	d := start(t)
	_, _, version := stableAndCanary(t, d, 1)
	const n = 200
	for _, share := range canaryShares {
		setShare(t, d, share)
		before := state(t, d)
		seen := map[string]int64{}
		for range n {
			status, served := get(t, d.LB+"/")
			require.Equal(t, http.StatusOK, status)
			seen[version[served]]++
		}
		after := state(t, d)
		require.Equal(t, int64(n*share/100), seen["v2"], "canary at %d%%: %v", share, seen)
		require.Equal(t, seen["v1"], after.Routed["v1"]-before.Routed["v1"], "the daemon counts what the client saw")
		require.Equal(t, seen["v2"], after.Routed["v2"]-before.Routed["v2"], "the daemon counts what the client saw")
		measured, answers := api.RoutedShare(before, after, "v2")
		require.Equal(t, int64(n), answers)
		require.InDelta(t, float64(share)/100, measured, 1e-9)
		t.Logf("canary at %2d%%: measured %.1f%% of %d requests", share, 100*measured, answers)
	}
}

// TestCanaryShareUnderLoad steps the canary through 1, 5, 25 and 50 % under an
// open-loop load of concurrent requests, as a release does, and measures each step's
// share from the answers the load generator got.
//
// Why ±1 percentage point holds, and not by luck: the round robin gives the canary
// exactly share% of every 100 consecutive picks, and any run of picks is within one
// request of share% of its length. A step's window holds the requests dispatched after
// the weights were set (Mark comes after SetWeights, and the previous window is Settled
// before the next SetWeights), so its picks are consecutive except for the few requests
// of the switch window still in flight when it opened. With about 1000 requests a step,
// 1 pp is 10 requests, far above 1 + in-flight requests. Timing plays no part.
func TestCanaryShareUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	d := start(t)
	stableAndCanary(t, d, 1)

	g, err := loadgen.New(loadgen.Config{BaseURL: d.LB, Rate: 400, Timeout: 10 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, g.Start(ctx))
	stopped := false
	defer func() {
		if !stopped {
			g.Stop()
		}
	}()

	const perStep = 1000
	prev := loadgen.SteadyWindow
	for _, share := range canaryShares {
		g.Mark(fmt.Sprintf("switch-to-%d", share))
		require.NoError(t, g.Settled(ctx, prev))
		setShare(t, d, share)
		prev = fmt.Sprintf("share-%d", share)
		g.Mark(prev)
		waitRouted(t, d, perStep)
	}
	g.Mark("done")
	r := g.Stop()
	stopped = true
	t.Log("\n" + r.String())

	require.Zero(t, r.Failed, "failed requests: %v", r.FailureSamples)
	for _, share := range canaryShares {
		w := window(t, r, fmt.Sprintf("share-%d", share))
		require.GreaterOrEqual(t, w.Requests, int64(perStep*9/10), "window %s", w.Name)
		require.InDelta(t, float64(share)/100, w.Share("v2"), 0.01, "canary at %d%%: %+v over %d requests", share, w.Versions, w.Requests)
		t.Logf("canary asked %2d%%: measured %.2f%% of %d requests", share, 100*w.Share("v2"), w.Requests)
	}
}

// waitRouted waits until the load balancer has relayed n more answers.
func waitRouted(t *testing.T, d *localcloudtest.Daemon, n int64) {
	t.Helper()
	total := func() int64 {
		var sum int64
		for _, c := range state(t, d).Routed {
			sum += c
		}
		return sum
	}
	from := total()
	require.Eventually(t, func() bool { return total() >= from+n }, time.Minute, 20*time.Millisecond, "the load balancer never relayed %d more answers", n)
}

func window(t *testing.T, r *loadgen.Report, name string) loadgen.Window {
	t.Helper()
	for _, w := range r.Windows {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no window %s in the report", name)
	return loadgen.Window{}
}

// session is a browser: it keeps the cookies the load balancer sets.
func session(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Transport: client.Transport, Jar: jar, Timeout: client.Timeout}
}

// servedBy sends one GET and returns the version that served it, failing on anything
// but 200.
func servedBy(t *testing.T, c *http.Client, url string, version map[string]string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return version[resp.Header.Get(api.HeaderInstance)]
}

// canarySession returns a new browser session that reached the canary. Each new
// session is placed by weight, so at 5 % one in every 20 lands there.
func canarySession(t *testing.T, d *localcloudtest.Daemon, version map[string]string) *http.Client {
	t.Helper()
	for range 100 {
		c := session(t)
		if servedBy(t, c, d.LB+"/", version) == "v2" {
			return c
		}
	}
	t.Fatal("no new session reached the canary in 100 tries at 5 %")
	return nil
}

// TestStickySessionsStayWhileTheCanaryServes: a user that reached the canary keeps
// reaching it, as its share grows and when one of its instances drains, while users
// without the cookie are still placed by weight; when the canary's weight goes to 0 (a rollback) or its
// last instance is detached, the user moves to the stable version without a failed
// request.
func TestStickySessionsStayWhileTheCanaryServes(t *testing.T) {
	d := start(t)
	_, canary, version := stableAndCanary(t, d, 2)
	setShare(t, d, 5)

	onCanary := canarySession(t, d, version)
	onStable := session(t)
	require.Equal(t, "v1", servedBy(t, onStable, d.LB+"/", version), "the next pick after a canary pick at 5 % is stable")
	cookieless := map[string]int{}
	for range 100 {
		require.Equal(t, "v2", servedBy(t, onCanary, d.LB+"/", version), "a canary user stays on the canary")
		require.Equal(t, "v1", servedBy(t, onStable, d.LB+"/", version), "a stable user stays on stable")
		cookieless[servedBy(t, client, d.LB+"/", version)]++
	}
	// The round robin repeats every 100 picks, so any 100 consecutive ones hold exactly
	// 5 canary picks; sticky requests take no pick.
	require.Equal(t, 5, cookieless["v2"], "users without the cookie are placed by weight: %v", cookieless)

	// The canary's share grows: its users stay, stable users only ever move to it.
	setShare(t, d, 25)
	for range 20 {
		require.Equal(t, "v2", servedBy(t, onCanary, d.LB+"/", version), "a canary user stays as the share grows")
	}
	setShare(t, d, 5)

	// One canary instance drains: the user stays on the canary version.
	detach(t, d, "", canary[0])
	for range 20 {
		require.Equal(t, "v2", servedBy(t, onCanary, d.LB+"/", version))
	}

	// Rollback: the canary goes to 0 % while still attached; its users leave at once.
	setShare(t, d, 0)
	for range 20 {
		require.Equal(t, "v1", servedBy(t, onCanary, d.LB+"/", version), "a canary at 0 % keeps no session")
	}

	// The canary serves again, then its last instance is detached: the user moves.
	setShare(t, d, 5)
	onCanary = canarySession(t, d, version)
	detach(t, d, "", canary[1])
	for range 20 {
		require.Equal(t, "v1", servedBy(t, onCanary, d.LB+"/", version), "a detached canary keeps no session")
	}
}

// TestRollbackFromAStepUnderLoadLosesNothing plays the traffic side of a rollback from
// the 25 % step, as the release does it, under load from users who keep their cookies
// (so some are stuck to the canary): the canary to 0 % at once, then detached, drained
// and terminated, then the weights cleared. No request may fail, and from the moment the
// canary is at 0 % no request may reach it, sticky or not.
func TestRollbackFromAStepUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	d := start(t)
	_, canary, _ := stableAndCanary(t, d, 1)

	g, err := loadgen.New(loadgen.Config{BaseURL: d.LB, Rate: 300, Timeout: 10 * time.Second, Sessions: 40})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, g.Start(ctx))
	stopped := false
	defer func() {
		if !stopped {
			g.Stop()
		}
	}()
	for _, share := range []int{1, 5, 25} {
		setShare(t, d, share)
		g.Mark(fmt.Sprintf("share-%d", share))
		waitRouted(t, d, 300)
	}
	g.Mark("rollback")
	require.NoError(t, g.Settled(ctx, "share-25"))
	setShare(t, d, 0)
	g.Mark("canary-at-0")
	waitRouted(t, d, 300)
	detach(t, d, "", canary...)
	waitInstance(t, d, canary[0].ID, "drained", func(in api.Instance) bool { return in.Connections == 0 && !in.Draining })
	ok(t, d, http.MethodPost, api.PathTerminate, api.IDs{IDs: ids(canary)})
	ok(t, d, http.MethodPut, api.PathWeights, map[string]int{})
	waitRouted(t, d, 300)
	r := g.Stop()
	stopped = true
	t.Log("\n" + r.String())

	require.Zero(t, r.Failed, "failed requests: %v", r.FailureSamples)
	require.Positive(t, window(t, r, "share-25").Versions["v2"].Responses, "some users were on the canary")
	require.Zero(t, window(t, r, "canary-at-0").Versions["v2"].Responses, "at 0 % the canary keeps no user, sticky or not")
}
