// Package awstest stands in for AWS, which cannot run here (no account, no network): an
// HTTP server that answers the EC2, Elastic Load Balancing v2 and Auto Scaling query
// protocols — form-encoded Action=... requests, XML responses and errors as AWS writes
// them — for the operations zerodown calls. Tests point the real SDK at it, so request
// serialisation, response parsing, waiters, paginators and error codes are the SDK's
// own, not a mock's.
//
// It is stateful and moves as AWS does, one step per observation so tests need no
// sleeps: instances go pending → running (and stopping → stopped when their user data
// powers them off, shutting-down → terminated), status checks initializing → ok,
// targets initial → healthy, draining → gone, images pending → available. Client tokens
// are idempotent as EC2's are. An Auto Scaling group launches and terminates instances
// on its own unless its processes are suspended, so a release that forgot to hold it
// back is caught. Whatever it is not told, it refuses with the error AWS would give,
// including the limits AWS sets on one call (100 instance IDs per DescribeInstanceStatus).
//
// It can also misbehave, so that zerodown's defences stay tested: IgnoreFilters makes
// it answer every instance whatever was asked (as a broken emulator did), Throttle and
// ThrottleFor answer the throttling error AWS gives under load, ServerError a 500.
package awstest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// API versions, which is how one endpoint tells the three services apart.
const (
	versionEC2         = "2016-11-15"
	versionELB         = "2015-12-01"
	versionAutoScaling = "2011-01-01"
	versionSTS         = "2011-06-15"
)

// Account is the fake's AWS account, and CallerARN who every caller is
// (sts:GetCallerIdentity), whatever credentials it signs with.
const (
	Account   = "123456789012"
	CallerARN = "arn:aws:iam::" + Account + ":user/zerodown-test"
)

// Cloud is the fake's state and its HTTP handler.
type Cloud struct {
	mu sync.Mutex
	// Steps is how many observations a transition takes (default 2).
	Steps int
	// PageSize caps every paginated answer, so callers must follow the next token as
	// they must with AWS, which may return fewer items than asked (default 2).
	PageSize int

	seq       int
	start     time.Time
	instances map[string]*Instance
	order     []string
	tokens    map[string]runRecord
	images    map[string]*Image
	imgOrder  []string
	templates map[string]*LaunchTemplate
	ltTokens  map[string]int64
	groups    map[string]*TargetGroup
	rules     map[string]*Rule
	asgs      map[string]*Group
	calls     []string
	failures  map[string][]apiError
	lost      map[string]int

	ignoreFilters map[string]bool
	throttles     map[string]*throttle
	throttled     map[string]int
	serverErrors  map[string]int
	maxIDs        map[string]int
}

// throttle is a throttled operation: for its next calls, or until a time.
type throttle struct {
	calls int
	until time.Time
}

// New returns an empty cloud.
func New() *Cloud {
	return &Cloud{
		Steps:     2,
		PageSize:  2,
		start:     time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC),
		instances: map[string]*Instance{},
		tokens:    map[string]runRecord{},
		images:    map[string]*Image{},
		templates: map[string]*LaunchTemplate{},
		ltTokens:  map[string]int64{},
		groups:    map[string]*TargetGroup{},
		rules:     map[string]*Rule{},
		asgs:      map[string]*Group{},
		failures:  map[string][]apiError{},
		lost:      map[string]int{},

		ignoreFilters: map[string]bool{},
		throttles:     map[string]*throttle{},
		throttled:     map[string]int{},
		serverErrors:  map[string]int{},
		maxIDs:        map[string]int{},
	}
}

// Start serves the cloud on a loopback port for the test's lifetime and returns its URL.
func (c *Cloud) Start(t testing.TB) string {
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv.URL
}

type apiError struct {
	status        int
	code, message string
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// Fail makes the next call of op ("ec2:RunInstances") fail with the given code.
func (c *Cloud) Fail(op, code, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures[op] = append(c.failures[op], apiError{status: http.StatusBadRequest, code: code, message: message})
}

// LoseResponse makes the next call of op succeed but its answer never arrive (the
// connection drops): the caller sees a 503 and, like any AWS client, retries.
func (c *Cloud) LoseResponse(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost[op]++
}

// IgnoreFilters makes the given operations (ec2:DescribeInstances,
// ec2:DescribeInstanceStatus) answer every instance, whatever instance IDs and filters
// they were given: what a broken endpoint does, and what zerodown must refuse to act on.
func (c *Cloud) IgnoreFilters(ops ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		c.ignoreFilters[op] = true
	}
}

// HonourFilters ends IgnoreFilters: every operation answers what it is asked again.
func (c *Cloud) HonourFilters() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.ignoreFilters)
}

// Throttle makes the next calls of op ("ec2:DescribeInstanceStatus") answer the
// service's throttling error (EC2's RequestLimitExceeded, Throttling elsewhere).
func (c *Cloud) Throttle(op string, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttles[op] = &throttle{calls: calls}
}

// ThrottleFor makes every call of op answer the throttling error for d of wall time.
func (c *Cloud) ThrottleFor(op string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttles[op] = &throttle{until: time.Now().Add(d)}
}

// Throttled returns how many calls of op were answered with the throttling error.
func (c *Cloud) Throttled(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.throttled[op]
}

// ServerError makes the next calls of op fail with a 500 InternalError.
func (c *Cloud) ServerError(op string, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serverErrors[op] += calls
}

// MaxIDs returns the most instance IDs one call of op named, as IDs or as the values
// of an instance-id filter.
func (c *Cloud) MaxIDs(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxIDs[op]
}

// throttle says whether this call of op is throttled, and counts it.
func (c *Cloud) throttle(op string) bool {
	t := c.throttles[op]
	switch {
	case t == nil:
		return false
	case t.calls > 0:
		t.calls--
	case time.Now().Before(t.until):
	default:
		delete(c.throttles, op)
		return false
	}
	c.throttled[op]++
	return true
}

// throttleError is the error each service answers a throttled call with.
func throttleError(service string) *apiError {
	if service == "ec2" {
		return &apiError{status: http.StatusServiceUnavailable, code: "RequestLimitExceeded", message: "Request limit exceeded."}
	}
	return &apiError{status: http.StatusBadRequest, code: "Throttling", message: "Rate exceeded"}
}

// countIDs keeps the most instance IDs one call of op named.
func (c *Cloud) countIDs(op string, q *node) {
	n := len(q.list("InstanceId")) + len(q.list("InstanceIds"))
	for _, f := range q.list("Filter") {
		if f.str("Name") == "instance-id" {
			n += len(f.list("Value"))
		}
	}
	c.maxIDs[op] = max(c.maxIDs[op], n)
}

// Calls returns every operation called so far, as IAM names them ("ec2:RunInstances").
func (c *Cloud) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// ServeHTTP answers one query-protocol request.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		http.Error(w, "the query protocol is POST with a form body", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.PostForm
	action, version := form.Get("Action"), form.Get("Version")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	reqID := fmt.Sprintf("fa4e0000-0000-4000-8000-%012d", c.seq)
	var (
		service string
		body    *X
		aerr    *apiError
	)
	q := parseTree(form)
	switch version {
	case versionEC2:
		service = "ec2"
	case versionELB:
		service = "elasticloadbalancing"
	case versionAutoScaling:
		service = "autoscaling"
	case versionSTS:
		service = "sts"
	default:
		http.Error(w, "unknown API version "+version, http.StatusBadRequest)
		return
	}
	op := service + ":" + action
	c.calls = append(c.calls, op)
	c.countIDs(op, q)
	if c.throttle(op) {
		aerr = throttleError(service)
	} else if c.serverErrors[op] > 0 {
		c.serverErrors[op]--
		aerr = &apiError{status: http.StatusInternalServerError, code: "InternalError", message: "An internal error has occurred"}
	} else if queued := c.failures[op]; len(queued) > 0 {
		c.failures[op] = queued[1:]
		aerr = &queued[0]
	} else {
		switch service {
		case "ec2":
			body, aerr = c.ec2(action, q, form)
		case "elasticloadbalancing":
			body, aerr = c.elb(action, q)
		case "sts":
			body, aerr = callerIdentity(action)
		default:
			body, aerr = c.autoscaling(action, q)
		}
		if aerr == nil && c.lost[op] > 0 {
			c.lost[op]--
			aerr = &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", message: "the answer was lost on its way back"}
		}
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("X-Amzn-Requestid", reqID)
	var out strings.Builder
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	if aerr != nil {
		w.WriteHeader(aerr.status)
		if service == "ec2" {
			E("Response", E("Errors", E("Error", T("Code", aerr.code), T("Message", aerr.message))), T("RequestID", reqID)).write(&out, "")
		} else {
			E("ErrorResponse", E("Error", T("Type", "Sender"), T("Code", aerr.code), T("Message", aerr.message)), T("RequestId", reqID)).write(&out, namespace(service))
		}
		_, _ = w.Write([]byte(out.String()))
		return
	}
	if service == "ec2" {
		root := E(action+"Response", T("requestId", reqID))
		if body != nil {
			root.Kids = append(root.Kids, body.Kids...)
		}
		root.write(&out, namespace(service))
	} else {
		result := E(action + "Result")
		if body != nil {
			result.Kids = body.Kids
		}
		E(action+"Response", result, E("ResponseMetadata", T("RequestId", reqID))).write(&out, namespace(service))
	}
	_, _ = w.Write([]byte(out.String()))
}

func namespace(service string) string {
	switch service {
	case "ec2":
		return "http://ec2.amazonaws.com/doc/" + versionEC2 + "/"
	case "elasticloadbalancing":
		return "http://elasticloadbalancing.amazonaws.com/doc/" + versionELB + "/"
	case "sts":
		return "https://sts.amazonaws.com/doc/" + versionSTS + "/"
	}
	return "http://autoscaling.amazonaws.com/doc/" + versionAutoScaling + "/"
}

// callerIdentity answers sts:GetCallerIdentity, which AWS answers for any valid
// credentials, without any permission.
func callerIdentity(action string) (*X, *apiError) {
	if action != "GetCallerIdentity" {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidAction", message: "The action " + action + " is not valid for this web service (the fake does not serve it)."}
	}
	return E("", T("Arn", CallerARN), T("UserId", "AIDAZERODOWNTEST00000"), T("Account", Account)), nil
}

// steps returns the configured transition length.
func (c *Cloud) steps() int { return max(1, c.Steps) }

// clock is the fake's time: a fixed start plus one second per request, so timestamps
// order as events did and tests are reproducible.
func (c *Cloud) clock() time.Time { return c.start.Add(time.Duration(c.seq) * time.Second) }

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// page cuts items for a paginated answer: from the offset in token, at most max(1,
// min(asked, PageSize)) items, and the token of the rest ("" at the end).
func (c *Cloud) page(n int, token string, asked int) (from, to int, next string, err *apiError) {
	if token != "" {
		v, e := strconv.Atoi(token)
		if e != nil || v < 0 || v > n {
			return 0, 0, "", errorf("InvalidParameterValue", "invalid pagination token %q", token)
		}
		from = v
	}
	size := c.PageSize
	if size <= 0 {
		size = 2
	}
	if asked > 0 {
		size = min(size, asked)
	}
	to = min(n, from+size)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next, nil
}

// ---- the form, as a tree ----

// node is a form decoded into a tree: "Filter.1.Value.2" is Filter → 1 → Value → 2,
// and the query protocol's "member" level ("Targets.member.1.Id") is kept so list()
// can skip it.
type node struct {
	val  string
	kids map[string]*node
}

func parseTree(v url.Values) *node {
	root := &node{}
	for key, vals := range v {
		n := root
		for _, part := range strings.Split(key, ".") {
			if n.kids == nil {
				n.kids = map[string]*node{}
			}
			k, ok := n.kids[part]
			if !ok {
				k = &node{}
				n.kids[part] = k
			}
			n = k
		}
		if len(vals) > 0 {
			n.val = vals[0]
		}
	}
	return root
}

func (n *node) child(path ...string) *node {
	for _, p := range path {
		if n == nil || n.kids == nil {
			return nil
		}
		n = n.kids[p]
	}
	return n
}

func (n *node) str(path ...string) string {
	if k := n.child(path...); k != nil {
		return k.val
	}
	return ""
}

func (n *node) has(path ...string) bool { return n.child(path...) != nil }

func (n *node) int(path ...string) int {
	v, _ := strconv.Atoi(n.str(path...))
	return v
}

// list returns the numbered items under path, in order ("member" skipped).
func (n *node) list(path ...string) []*node {
	k := n.child(path...)
	if k == nil {
		return nil
	}
	if m := k.child("member"); m != nil {
		k = m
	}
	type item struct {
		i int
		n *node
	}
	var items []item
	for name, kid := range k.kids {
		if i, err := strconv.Atoi(name); err == nil {
			items = append(items, item{i, kid})
		}
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]*node, len(items))
	for i, it := range items {
		out[i] = it.n
	}
	return out
}

func (n *node) strs(path ...string) []string {
	var out []string
	for _, k := range n.list(path...) {
		out = append(out, k.val)
	}
	return out
}

// ---- XML ----

// X is an XML element: text or children.
type X struct {
	Name string
	Text string
	Kids []*X
}

// E is an element with children; T one with text.
func E(name string, kids ...*X) *X { return &X{Name: name, Kids: kids} }

// T is an element with text (fmt's %v of v).
func T(name string, v any) *X { return &X{Name: name, Text: fmt.Sprint(v)} }

func (x *X) write(b *strings.Builder, ns string) {
	if x == nil {
		return
	}
	b.WriteString("<" + x.Name)
	if ns != "" {
		b.WriteString(` xmlns="` + ns + `"`)
	}
	b.WriteString(">")
	if len(x.Kids) == 0 {
		escape(b, x.Text)
	}
	for _, k := range x.Kids {
		k.write(b, "")
	}
	b.WriteString("</" + x.Name + ">")
}

func escape(b *strings.Builder, s string) {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	b.WriteString(r.Replace(s))
}

// list builds a list element: EC2 names its items "item", the query protocol "member".
func list(name, item string, elems []*X) *X {
	out := E(name)
	for _, e := range elems {
		e.Name = item
		out.Kids = append(out.Kids, e)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
