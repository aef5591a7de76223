// Package sentry is the analysis provider that asks Sentry's web API about the canary's
// release and the baseline's: Sentry keeps errors by release (the SDK's release option,
// set to the version zerodown deploys), not by instance, so each side is a release.
//
// A check looks at its last interval, [now-interval, now). Per side it asks
//
//   - GET /api/0/organizations/{org}/events-stats/ twice, for the count() of
//     event.type:error and of event.type:transaction events of release:<version> in
//     project:<slug>, one bucket per step: the error counts and the requests (a
//     transaction per request, with the SDK's tracing on) behind errorEvents and
//     errorsPerRequest, and which steps Sentry heard from the release at all;
//   - GET /api/0/projects/{org}/{project}/issues/ with firstRelease:<version>
//     lastSeen:>=<window start>, for newIssues: the issues the release introduced that
//     still occur in the window.
//
// The auth token is the worker's SENTRY_AUTH_TOKEN (schemas.SentryTokenEnv), never a
// spec field; it goes only into the Authorization header of requests to the spec's
// Sentry URL, and never into an error.
package sentry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/schemas"
)

// Bounds on what one check asks of Sentry and reads back.
const (
	// DefaultRequestTimeout bounds one request: a check makes up to a dozen and must end
	// well inside the Check activity's one-minute timeout.
	DefaultRequestTimeout = 10 * time.Second
	// MaxResponseBytes bounds one response body.
	MaxResponseBytes = 4 << 20
	// MaxIssuePages bounds the pages of issues read per side (100 issues each): past
	// 1000 new issues the count is reported as at least that.
	MaxIssuePages = 10
)

// Analyzer is the sentry provider.
type Analyzer struct {
	Client         *http.Client
	RequestTimeout time.Duration
	// Now is the time a check judges up to; tests may fix it.
	Now func() time.Time
	// Getenv reads the worker's environment (the token); tests may replace it.
	Getenv func(string) string
}

var _ analysis.Analyzer = (*Analyzer)(nil)

// New returns a sentry analyzer reading its token from the environment.
func New() *Analyzer {
	return &Analyzer{
		Client:         &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4}},
		RequestTimeout: DefaultRequestTimeout, Now: time.Now, Getenv: os.Getenv,
	}
}

// Analyze judges one check.
func (a *Analyzer) Analyze(ctx context.Context, req analysis.Request) (analysis.Result, error) {
	cfg := req.Spec.Sentry
	if cfg == nil || cfg.Organization == "" || cfg.Project == "" {
		return analysis.Result{}, fmt.Errorf("%w: canary.analysis.sentry (organization and project) is required by the sentry provider", analysis.ErrInvalidConfig)
	}
	getenv := a.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	token := getenv(schemas.SentryTokenEnv)
	if token == "" {
		return analysis.Result{}, fmt.Errorf("%w: the worker has no %s in its environment; the sentry provider needs a Sentry auth token with the event:read and org:read scopes", analysis.ErrInvalidConfig, schemas.SentryTokenEnv)
	}
	base, err := url.Parse(strings.TrimRight(cmpOr(cfg.URL, schemas.DefaultSentryURL), "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return analysis.Result{}, fmt.Errorf("%w: canary.analysis.sentry.url %q is not an http(s) URL", analysis.ErrInvalidConfig, cfg.URL)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	end := now()
	q := &querier{a: a, cfg: *cfg, base: base, token: token, start: end.Add(-analysis.Window(req.Spec)), end: end,
		step: req.Spec.StepOrDefault(), sides: map[string]*side{}}
	needIssues := false
	for _, m := range req.Spec.Metrics {
		needIssues = needIssues || m.Query == schemas.SentryNewIssues
	}
	q.needIssues = needIssues

	return analysis.Run(ctx, req, func(ctx context.Context, m schemas.Metric) (analysis.Observation, error) {
		var obs analysis.Observation
		c, err := q.side(ctx, req.Version)
		if err != nil {
			if isPermanent(err) || ctx.Err() != nil {
				return obs, err
			}
			obs.Err = err
			return obs, nil
		}
		obs.Canary, obs.Hint, err = c.measure(m.Query)
		if err != nil {
			return obs, err
		}
		obs.Baseline = analysis.NoSide()
		if len(req.Baseline) > 0 {
			b, err := q.side(ctx, req.BaselineVersion)
			if err != nil {
				if isPermanent(err) || ctx.Err() != nil {
					return obs, err
				}
				obs.Err = err
				return obs, nil
			}
			var bhint string
			obs.Baseline, bhint, _ = b.measure(m.Query)
			if !math.IsNaN(obs.Canary.Value) || len(obs.Canary.Samples) > 0 {
				obs.Hint = bhint
			}
		}
		return obs, nil
	})
}

// querier asks Sentry for one check, once per side whatever the number of metrics.
type querier struct {
	a          *Analyzer
	cfg        schemas.Sentry
	base       *url.URL
	token      string
	start, end time.Time
	step       time.Duration
	needIssues bool
	sides      map[string]*side
}

func (q *querier) side(ctx context.Context, release string) (*side, error) {
	if s, ok := q.sides[release]; ok {
		return s, s.err
	}
	s := &side{release: release, project: q.cfg.Project, end: q.end}
	q.sides[release] = s
	s.errors, s.err = q.counts(ctx, release, "error")
	if s.err == nil {
		s.transactions, s.err = q.counts(ctx, release, "transaction")
	}
	if s.err == nil && q.needIssues {
		s.issues, s.issuesCapped, s.err = q.newIssues(ctx, release)
	}
	return s, s.err
}

// bucket is one step's count.
type bucket struct {
	start time.Time
	count float64
}

// counts asks events-stats for the count of the release's events of one type, per step.
func (q *querier) counts(ctx context.Context, release, eventType string) ([]bucket, error) {
	v := url.Values{}
	v.Set("query", fmt.Sprintf("project:%s release:%s event.type:%s", q.cfg.Project, quote(release), eventType))
	v.Set("start", q.start.UTC().Format("2006-01-02T15:04:05"))
	v.Set("end", q.end.UTC().Format("2006-01-02T15:04:05"))
	v.Set("interval", interval(q.step))
	v.Set("yAxis", "count()")
	if q.cfg.Environment != "" {
		v.Set("environment", q.cfg.Environment)
	}
	u := q.endpoint(v, "organizations", q.cfg.Organization, "events-stats")
	var body struct {
		Data [][2]json.RawMessage `json:"data"`
	}
	if _, err := q.get(ctx, u, &body); err != nil {
		return nil, err
	}
	out := make([]bucket, 0, len(body.Data))
	for i, d := range body.Data {
		var ts float64
		var values []struct {
			Count float64 `json:"count"`
		}
		if json.Unmarshal(d[0], &ts) != nil || json.Unmarshal(d[1], &values) != nil {
			return nil, fmt.Errorf("sentry events-stats: data[%d] is not [timestamp, [{count}]]", i)
		}
		b := bucket{start: time.Unix(int64(ts), 0)}
		for _, c := range values {
			if !math.IsNaN(c.Count) && !math.IsInf(c.Count, 0) && c.Count > 0 {
				b.count += c.Count
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// issue is what the provider reads of a Sentry issue.
type issue struct {
	ID        string    `json:"id"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// newIssues lists the issues first seen in release and seen within the window,
// following Sentry's Link-header cursors for at most MaxIssuePages pages.
func (q *querier) newIssues(ctx context.Context, release string) ([]issue, bool, error) {
	v := url.Values{}
	v.Set("query", fmt.Sprintf("firstRelease:%s lastSeen:>=%s", quote(release), q.start.UTC().Format("2006-01-02T15:04:05")))
	if q.cfg.Environment != "" {
		v.Set("environment", q.cfg.Environment)
	}
	u := q.endpoint(v, "projects", q.cfg.Organization, q.cfg.Project, "issues")
	var all []issue
	for page := 0; page < MaxIssuePages; page++ {
		var list []issue
		h, err := q.get(ctx, u, &list)
		if err != nil {
			return nil, false, err
		}
		for _, is := range list {
			if !is.LastSeen.Before(q.start.Truncate(time.Second)) { // Sentry filters; this guards a lax server
				all = append(all, is)
			}
		}
		next, ok, err := nextPage(q.base, h.Get("Link"))
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return all, false, nil
		}
		u = next
	}
	return all, true, nil
}

// endpoint is the web API's URL of path (its elements escaped) with the query v.
func (q *querier) endpoint(v url.Values, path ...string) *url.URL {
	u := q.base.JoinPath(append([]string{"api", "0"}, path...)...)
	u.Path = "/" + strings.Trim(u.Path, "/") + "/"
	u.RawPath = ""
	u.RawQuery = v.Encode()
	return u
}

// get fetches u with the token and decodes its JSON into out, bounded in time and size.
func (q *querier) get(ctx context.Context, u *url.URL, out any) (http.Header, error) {
	timeout := q.a.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: canary.analysis.sentry: %v", analysis.ErrInvalidConfig, err)
	}
	req.Header.Set("Authorization", "Bearer "+q.token)
	req.Header.Set("Accept", "application/json")
	client := q.a.Client
	if client == nil {
		client = http.DefaultClient
	}
	where := "sentry " + u.Path
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in where; keep the query out of the message
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", where, err)
	}
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", where, MaxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(where, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("%s: answer is not the JSON Sentry sends: %v", where, err)
	}
	return resp.Header, nil
}

// statusError tells answers no retry can fix (a refused query, token or unknown
// organisation or project: the check fails at once) from outages (the metric is
// inconclusive and the next check tries again).
func statusError(where string, code int, body []byte) error {
	var e struct {
		Detail string `json:"detail"`
	}
	detail := ""
	if json.Unmarshal(body, &e) == nil && e.Detail != "" {
		detail = ": " + shorten(e.Detail)
	}
	switch code {
	case http.StatusBadRequest:
		return fmt.Errorf("%w: %s answered 400%s", analysis.ErrInvalidQuery, where, detail)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s answered %d%s: is %s a token of canary.analysis.sentry.organization with the event:read and org:read scopes?", analysis.ErrInvalidConfig, where, code, detail, schemas.SentryTokenEnv)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s answered 404%s: check canary.analysis.sentry.organization and project", analysis.ErrInvalidConfig, where, detail)
	}
	return fmt.Errorf("%s answered %d%s", where, code, detail)
}

func isPermanent(err error) bool {
	return errors.Is(err, analysis.ErrInvalidConfig) || errors.Is(err, analysis.ErrInvalidQuery)
}

// nextPage reads the rel="next" link of Sentry's Link header; results="false" ends the
// list. A next page elsewhere than the configured Sentry is refused: the token must
// never leave for another host.
func nextPage(base *url.URL, link string) (*url.URL, bool, error) {
	for part := range strings.SplitSeq(link, ",") {
		fields := strings.Split(part, ";")
		if len(fields) < 2 {
			continue
		}
		var rel, results string
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			switch k {
			case "rel":
				rel = strings.Trim(v, `"`)
			case "results":
				results = strings.Trim(v, `"`)
			}
		}
		if rel != "next" || results != "true" {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(fields[0]), "<>"))
		if err != nil {
			return nil, false, fmt.Errorf("sentry: next page link: %v", err)
		}
		if u.Scheme != base.Scheme || u.Host != base.Host {
			return nil, false, fmt.Errorf("sentry: next page link points to %s://%s, not canary.analysis.sentry.url; not following it with the token", u.Scheme, u.Host)
		}
		return u, true, nil
	}
	return nil, false, nil
}

// quote writes a search value as Sentry's search syntax quotes one.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// interval writes a step as events-stats wants it: whole minutes as "Nm", else seconds.
func interval(step time.Duration) string {
	if step >= time.Minute && step%time.Minute == 0 {
		return strconv.Itoa(int(step/time.Minute)) + "m"
	}
	return strconv.Itoa(max(1, int(step/time.Second))) + "s"
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		return s[:197] + "..."
	}
	return s
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
