package awstest

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Instance is an EC2 instance of the fake.
type Instance struct {
	ID, ImageID, SubnetID, PrivateIP string
	ClientToken, Reservation         string
	State                            string
	// Status is the EC2 instance status check: initializing, then ok.
	Status string
	Tags   map[string]string
	// UserData is the decoded user data; ShutdownBehavior stop or terminate.
	UserData, ShutdownBehavior string
	// Healthy says the application answers the load balancer's health checks.
	Healthy  bool
	Launched time.Time
	// left counts observations until the next transition.
	left, statusLeft, runningSeen int
	stateReason                   string
	impaired                      bool
}

// Image is an AMI of the fake.
type Image struct {
	ID, Name, State, SourceInstance string
	Tags                            map[string]string
	Created                         time.Time
	// FailWhenDone makes the image end "failed" instead of "available".
	FailWhenDone bool
	left         int
}

// LaunchTemplate is a launch template with its versions (version n is Versions[n-1]).
type LaunchTemplate struct {
	ID, Name       string
	Versions       []string // each version's AMI
	DefaultVersion int
}

type runRecord struct {
	params string
	ids    []string
}

// reachability is the reachability check's status for each instance status.
var reachability = map[string]string{"ok": "passed", "impaired": "failed", "initializing": "initializing", "not-applicable": "initializing"}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

// AddLaunchTemplate creates a launch template whose version 1 (the default) runs image.
func (c *Cloud) AddLaunchTemplate(id, name, image string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.templates[id] = &LaunchTemplate{ID: id, Name: name, Versions: []string{image}, DefaultVersion: 1}
}

// LaunchTemplate returns a copy of a launch template.
func (c *Cloud) LaunchTemplate(id string) LaunchTemplate {
	c.mu.Lock()
	defer c.mu.Unlock()
	lt := *c.templates[id]
	lt.Versions = slices.Clone(lt.Versions)
	return lt
}

// AddImage registers an available AMI with the given tags (one baked earlier).
func (c *Cloud) AddImage(name string, tags map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := fmt.Sprintf("ami-%017x", 0xa000+c.seq)
	c.images[id] = &Image{ID: id, Name: name, State: "available", Tags: cloneMap(tags), Created: c.clock()}
	c.imgOrder = append(c.imgOrder, id)
	return id
}

// Image returns a copy of an AMI.
func (c *Cloud) Image(id string) (Image, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img, ok := c.images[id]
	if !ok {
		return Image{}, false
	}
	out := *img
	out.Tags = cloneMap(img.Tags)
	return out, true
}

// Images returns copies of every AMI, oldest first.
func (c *Cloud) Images() []Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Image
	for _, id := range c.imgOrder {
		img := *c.images[id]
		img.Tags = cloneMap(img.Tags)
		out = append(out, img)
	}
	return out
}

// FailNextImage makes the next image created end "failed".
func (c *Cloud) FailNextImage() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures["fake:image"] = append(c.failures["fake:image"], apiError{})
}

// AddInstance adds a running instance (an existing fleet) and returns its ID.
func (c *Cloud) AddInstance(image string, tags map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.newInstance(image, "subnet-0default", "", tags)
	in.State, in.Status = "running", "ok"
	return in.ID
}

// Instance returns a copy of an instance.
func (c *Cloud) Instance(id string) (Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.instances[id]
	if !ok {
		return Instance{}, false
	}
	out := *in
	out.Tags = cloneMap(in.Tags)
	return out, true
}

// Instances returns copies of every instance, in launch order.
func (c *Cloud) Instances() []Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Instance, 0, len(c.order))
	for _, id := range c.order {
		in := *c.instances[id]
		in.Tags = cloneMap(in.Tags)
		out = append(out, in)
	}
	return out
}

// SetHealthy says whether an instance's application passes health checks.
func (c *Cloud) SetHealthy(id string, healthy bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.instances[id].Healthy = healthy
}

// Impair makes an instance fail its EC2 status checks for good (a broken kernel, a
// failed volume): once running, its status reads impaired instead of ok.
func (c *Cloud) Impair(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.instances[id].impaired = true
}

// Crash terminates an instance from outside (a hardware failure, a spot reclaim).
func (c *Cloud) Crash(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setState(c.instances[id], "terminated")
}

func (c *Cloud) newInstance(image, subnet, token string, tags map[string]string) *Instance {
	c.seq++
	n := len(c.order) + 1
	in := &Instance{
		ID:          fmt.Sprintf("i-%017x", 0x100+n),
		ImageID:     image,
		SubnetID:    subnet,
		PrivateIP:   fmt.Sprintf("10.0.%d.%d", n/250, 10+n%250),
		ClientToken: token,
		State:       "pending",
		Status:      "initializing",
		Tags:        cloneMap(tags),
		Healthy:     true,
		Launched:    c.clock(),
		left:        c.steps(),
		statusLeft:  c.steps(),
	}
	if in.Tags == nil {
		in.Tags = map[string]string{}
	}
	c.instances[in.ID] = in
	c.order = append(c.order, in.ID)
	return in
}

// observeInstance moves an instance one step along its lifecycle, as time would.
func (c *Cloud) observeInstance(in *Instance) {
	switch in.State {
	case "pending":
		if in.left--; in.left <= 0 {
			c.setState(in, "running")
		}
	case "running":
		// User data that powers off, on an instance whose shutdown stops it: it runs
		// for a while, then stops (how a bake's builder says it is done).
		if poweroff(in.UserData) {
			if in.runningSeen++; in.runningSeen >= c.steps() {
				if in.ShutdownBehavior == "stop" {
					c.setState(in, "stopping")
				} else {
					c.setState(in, "shutting-down")
				}
				in.stateReason = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
			}
		}
	case "stopping":
		if in.left--; in.left <= 0 {
			c.setState(in, "stopped")
		}
	case "shutting-down":
		if in.left--; in.left <= 0 {
			c.setState(in, "terminated")
		}
	}
}

func poweroff(userData string) bool {
	return strings.Contains(userData, "shutdown -h") || strings.Contains(userData, "poweroff")
}

// setState moves an instance to a state and applies what follows from it: a terminated
// instance leaves its target groups and its Auto Scaling group.
func (c *Cloud) setState(in *Instance, state string) {
	in.State = state
	in.left = c.steps()
	if state != "running" {
		in.Status = "initializing"
		in.statusLeft = c.steps()
	}
	if state == "terminated" {
		for _, tg := range c.groups {
			if t, ok := tg.targets[in.ID]; ok && t.State != "draining" {
				t.State, t.left, t.Reason = "draining", tg.drainSteps(c), "Target.DeregistrationInProgress"
			}
		}
		for _, g := range c.asgs {
			if i := slices.Index(g.Members, in.ID); i >= 0 {
				// The group lost capacity it did not give up: it replaces it, unless
				// held back.
				g.Members = slices.Delete(g.Members, i, i+1)
				c.reconcile(g)
			}
		}
	}
}

func (c *Cloud) ec2(action string, q *node, form url.Values) (*X, *apiError) {
	switch action {
	case "RunInstances":
		return c.runInstances(q, form)
	case "DescribeInstances":
		return c.describeInstances(q)
	case "DescribeInstanceStatus":
		return c.describeInstanceStatus(q)
	case "TerminateInstances":
		return c.terminateInstances(q)
	case "CreateTags":
		return c.createTags(q)
	case "DescribeImages":
		return c.describeImages(q)
	case "CreateImage":
		return c.createImage(q)
	case "CreateLaunchTemplateVersion":
		return c.createLaunchTemplateVersion(q)
	}
	return nil, &apiError{status: 400, code: "InvalidAction", message: "The action " + action + " is not valid for this web service (the fake does not serve it)."}
}

// resolveTemplate finds a launch template and the AMI of a version of it.
func (c *Cloud) resolveTemplate(id, name, version string) (*LaunchTemplate, int, *apiError) {
	var lt *LaunchTemplate
	if id != "" {
		lt = c.templates[id]
		if lt == nil {
			return nil, 0, errorf("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
	} else {
		for _, t := range c.templates {
			if t.Name == name {
				lt = t
			}
		}
		if lt == nil {
			return nil, 0, errorf("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
		}
	}
	n := lt.DefaultVersion
	switch version {
	case "", "$Default":
	case "$Latest":
		n = len(lt.Versions)
	default:
		v, err := strconv.Atoi(version)
		if err != nil || v < 1 || v > len(lt.Versions) {
			return nil, 0, errorf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for template %s", version, lt.ID)
		}
		n = v
	}
	return lt, n, nil
}

func (c *Cloud) runInstances(q *node, form url.Values) (*X, *apiError) {
	minCount, maxCount := q.int("MinCount"), q.int("MaxCount")
	if minCount < 1 || maxCount < minCount {
		return nil, errorf("InvalidParameterValue", "MinCount (%d) and MaxCount (%d) are invalid", minCount, maxCount)
	}
	token := q.str("ClientToken")
	if len(token) > 64 {
		return nil, errorf("InvalidParameterValue", "Value (%s) for parameter clientToken is invalid. Length exceeds maximum of 64 characters.", token)
	}
	params := canonical(form, "ClientToken")
	if token != "" {
		if rec, ok := c.tokens[token]; ok {
			if rec.params != params {
				return nil, errorf("IdempotentParameterMismatch", "The client token you have provided is associated with a resource that has different parameters.")
			}
			return c.reservation(rec.ids), nil
		}
	}
	image := q.str("ImageId")
	if q.has("LaunchTemplate") {
		lt, v, err := c.resolveTemplate(q.str("LaunchTemplate", "LaunchTemplateId"), q.str("LaunchTemplate", "LaunchTemplateName"), q.str("LaunchTemplate", "Version"))
		if err != nil {
			return nil, err
		}
		if image == "" {
			image = lt.Versions[v-1]
		}
	}
	if image == "" {
		return nil, errorf("MissingParameter", "The request must contain the parameter ImageId")
	}
	if img, ok := c.images[image]; ok && img.State != "available" {
		return nil, errorf("InvalidAMIID.Unavailable", "The image id '[%s]' is not available", image)
	}
	tags := map[string]string{}
	for _, ts := range q.list("TagSpecification") {
		if ts.str("ResourceType") == "instance" {
			for _, t := range ts.list("Tag") {
				tags[t.str("Key")] = t.str("Value")
			}
		}
	}
	userData := ""
	if ud := q.str("UserData"); ud != "" {
		b, err := base64.StdEncoding.DecodeString(ud)
		if err != nil {
			return nil, errorf("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
		}
		userData = string(b)
	}
	subnet := q.str("SubnetId")
	if subnet == "" {
		subnet = "subnet-0default"
	}
	var ids []string
	for range maxCount {
		in := c.newInstance(image, subnet, token, tags)
		in.UserData = userData
		in.ShutdownBehavior = q.str("InstanceInitiatedShutdownBehavior")
		ids = append(ids, in.ID)
	}
	if token != "" {
		c.tokens[token] = runRecord{params: params, ids: ids}
	}
	return c.reservation(ids), nil
}

// canonical is the request's parameters in a fixed order, minus the ones that do not
// make a request different (a client token is compared with the rest).
func canonical(form url.Values, skip ...string) string {
	var parts []string
	for _, k := range sortedKeys(form) {
		if k == "Action" || k == "Version" || slices.Contains(skip, k) {
			continue
		}
		parts = append(parts, k+"="+strings.Join(form[k], ","))
	}
	return strings.Join(parts, "&")
}

func (c *Cloud) reservation(ids []string) *X {
	var items []*X
	for _, id := range ids {
		items = append(items, c.instanceXML(c.instances[id]))
	}
	return E("", T("reservationId", "r-"+strings.TrimPrefix(ids[0], "i-")), T("ownerId", "123456789012"), E("groupSet"), list("instancesSet", "item", items))
}

func (c *Cloud) instanceXML(in *Instance) *X {
	x := E("item",
		T("instanceId", in.ID),
		T("imageId", in.ImageID),
		E("instanceState", T("code", stateCodes[in.State]), T("name", in.State)),
		T("privateDnsName", "ip-"+strings.ReplaceAll(in.PrivateIP, ".", "-")+".eu-west-1.compute.internal"),
		T("instanceType", "t3.micro"),
		T("launchTime", isoTime(in.Launched)),
		E("placement", T("availabilityZone", "eu-west-1a")),
		T("subnetId", in.SubnetID),
		T("vpcId", "vpc-0fake"),
		T("privateIpAddress", in.PrivateIP),
		tagSet(in.Tags),
	)
	if in.ClientToken != "" {
		x.Kids = append(x.Kids, T("clientToken", in.ClientToken))
	}
	if in.stateReason != "" {
		code, msg, _ := strings.Cut(in.stateReason, ": ")
		x.Kids = append(x.Kids, E("stateReason", T("code", code), T("message", msg)))
	}
	return x
}

func tagSet(tags map[string]string) *X {
	var items []*X
	for _, k := range sortedKeys(tags) {
		items = append(items, E("item", T("key", k), T("value", tags[k])))
	}
	return list("tagSet", "item", items)
}

// filter is one EC2 filter: a name and the values any of which matches.
type filter struct {
	name   string
	values []string
}

func filters(q *node) []filter {
	var out []filter
	for _, f := range q.list("Filter") {
		out = append(out, filter{name: f.str("Name"), values: f.strs("Value")})
	}
	return out
}

func (c *Cloud) instanceMatches(in *Instance, fs []filter) (bool, *apiError) {
	for _, f := range fs {
		var got string
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			v, ok := in.Tags[strings.TrimPrefix(f.name, "tag:")]
			if !ok {
				return false, nil
			}
			got = v
		case f.name == "instance-state-name":
			got = in.State
		case f.name == "instance-id":
			got = in.ID
		case f.name == "client-token":
			got = in.ClientToken
		default:
			return false, errorf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		if !slices.Contains(f.values, got) {
			return false, nil
		}
	}
	return true, nil
}

func (c *Cloud) describeInstances(q *node) (*X, *apiError) {
	ids := q.strs("InstanceId")
	if len(ids) > 0 && q.has("MaxResults") {
		return nil, errorf("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	for _, id := range ids {
		if _, ok := c.instances[id]; !ok && !c.ignoreFilters["ec2:DescribeInstances"] {
			return nil, errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	fs := filters(q)
	if c.ignoreFilters["ec2:DescribeInstances"] {
		ids, fs = nil, nil
	}
	var match []*Instance
	for _, id := range c.order {
		in := c.instances[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		c.observeInstance(in)
		ok, err := c.instanceMatches(in, fs)
		if err != nil {
			return nil, err
		}
		if ok {
			match = append(match, in)
		}
	}
	from, to, next := 0, len(match), ""
	if q.has("MaxResults") {
		asked := q.int("MaxResults")
		if asked < 5 || asked > 1000 {
			return nil, errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", asked)
		}
		var err *apiError
		if from, to, next, err = c.page(len(match), q.str("NextToken"), asked); err != nil {
			return nil, err
		}
	} else if q.str("NextToken") != "" {
		return nil, errorf("InvalidParameterValue", "NextToken without MaxResults")
	}
	// Instances are grouped into reservations as EC2 does: those launched together.
	var reservations []*X
	var last string
	for _, in := range match[from:to] {
		r := in.ClientToken
		if r == "" || r != last {
			reservations = append(reservations, E("item", T("reservationId", "r-"+strings.TrimPrefix(in.ID, "i-")), T("ownerId", "123456789012"), E("groupSet"), E("instancesSet")))
		}
		last = r
		cur := reservations[len(reservations)-1]
		set := cur.Kids[len(cur.Kids)-1]
		item := c.instanceXML(in)
		set.Kids = append(set.Kids, item)
	}
	out := E("", list("reservationSet", "item", reservations))
	if next != "" {
		out.Kids = append(out.Kids, T("nextToken", next))
	}
	return out, nil
}

// maxStatusIDs is the most instance IDs one DescribeInstanceStatus may name (EC2 API
// reference: "Maximum 100 explicitly specified instance IDs"; the error code AWS
// answers with is not documented).
const maxStatusIDs = 100

func (c *Cloud) describeInstanceStatus(q *node) (*X, *apiError) {
	ids := q.strs("InstanceId")
	if len(ids) > maxStatusIDs {
		return nil, errorf("InvalidParameterValue", "The request names %d instance IDs; at most %d may be specified", len(ids), maxStatusIDs)
	}
	for _, id := range ids {
		if _, ok := c.instances[id]; !ok && !c.ignoreFilters["ec2:DescribeInstanceStatus"] {
			return nil, errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	if c.ignoreFilters["ec2:DescribeInstanceStatus"] {
		ids = nil
	}
	all := q.str("IncludeAllInstances") == "true"
	var items []*X
	for _, id := range c.order {
		in := c.instances[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if in.State != "running" && !all {
			continue // as EC2: only running instances unless asked for all
		}
		if in.State == "running" && in.Status == "initializing" {
			if in.statusLeft--; in.statusLeft <= 0 {
				in.Status = "ok"
				if in.impaired {
					in.Status = "impaired"
				}
			}
		}
		status := in.Status
		if in.State != "running" {
			status = "not-applicable"
		}
		items = append(items, E("item",
			T("instanceId", in.ID),
			T("availabilityZone", "eu-west-1a"),
			E("instanceState", T("code", stateCodes[in.State]), T("name", in.State)),
			E("instanceStatus", T("status", status), list("details", "item", []*X{E("", T("name", "reachability"), T("status", reachability[status]))})),
			E("systemStatus", T("status", status)),
		))
	}
	return E("", list("instanceStatusSet", "item", items)), nil
}

func (c *Cloud) terminateInstances(q *node) (*X, *apiError) {
	ids := q.strs("InstanceId")
	if len(ids) == 0 {
		return nil, errorf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	for _, id := range ids {
		if _, ok := c.instances[id]; !ok {
			return nil, errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	var items []*X
	for _, id := range ids {
		in := c.instances[id]
		prev := in.State
		if in.State != "terminated" && in.State != "shutting-down" {
			c.setState(in, "shutting-down")
			in.stateReason = "Client.UserInitiatedShutdown: User initiated shutdown"
			// Leaving the load balancer and the group happens at termination; AWS
			// starts it at once.
			for _, tg := range c.groups {
				if t, ok := tg.targets[in.ID]; ok && t.State != "draining" {
					t.State, t.left, t.Reason = "draining", tg.drainSteps(c), "Target.DeregistrationInProgress"
				}
			}
			for _, g := range c.asgs {
				if i := slices.Index(g.Members, in.ID); i >= 0 {
					g.Members = slices.Delete(g.Members, i, i+1)
					c.reconcile(g)
				}
			}
		}
		items = append(items, E("item", T("instanceId", id),
			E("currentState", T("code", stateCodes[in.State]), T("name", in.State)),
			E("previousState", T("code", stateCodes[prev]), T("name", prev))))
	}
	return E("", list("instancesSet", "item", items)), nil
}

func (c *Cloud) createTags(q *node) (*X, *apiError) {
	ids := q.strs("ResourceId")
	tags := map[string]string{}
	for _, t := range q.list("Tag") {
		k := t.str("Key")
		if strings.HasPrefix(k, "aws:") {
			return nil, errorf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		}
		tags[k] = t.str("Value")
	}
	for _, id := range ids {
		switch {
		case c.instances[id] != nil:
		case c.images[id] != nil:
		default:
			return nil, errorf("InvalidID", "The ID '%s' is not valid", id)
		}
	}
	for _, id := range ids {
		target := map[string]string(nil)
		if in := c.instances[id]; in != nil {
			target = in.Tags
		} else {
			target = c.images[id].Tags
		}
		for k, v := range tags {
			target[k] = v
		}
	}
	return E("", T("return", "true")), nil
}

func (c *Cloud) observeImage(img *Image) {
	if img.State != "pending" {
		return
	}
	if img.left--; img.left <= 0 {
		img.State = "available"
		if img.FailWhenDone {
			img.State = "failed"
		}
	}
}

func (c *Cloud) describeImages(q *node) (*X, *apiError) {
	ids := q.strs("ImageId")
	for _, id := range ids {
		if _, ok := c.images[id]; !ok {
			return nil, errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
	}
	fs := filters(q)
	var match []*Image
	for _, id := range c.imgOrder {
		img := c.images[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		c.observeImage(img)
		ok := true
		for _, f := range fs {
			var got string
			switch {
			case strings.HasPrefix(f.name, "tag:"):
				v, has := img.Tags[strings.TrimPrefix(f.name, "tag:")]
				if !has {
					ok = false
				}
				got = v
			case f.name == "name":
				got = img.Name
			case f.name == "state":
				got = img.State
			case f.name == "image-id":
				got = img.ID
			default:
				return nil, errorf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
			}
			if !slices.Contains(f.values, got) {
				ok = false
			}
		}
		if ok {
			match = append(match, img)
		}
	}
	from, to, next := 0, len(match), ""
	if q.has("MaxResults") {
		var err *apiError
		if from, to, next, err = c.page(len(match), q.str("NextToken"), q.int("MaxResults")); err != nil {
			return nil, err
		}
	}
	var items []*X
	for _, img := range match[from:to] {
		x := E("item", T("imageId", img.ID), T("imageLocation", "123456789012/"+img.Name), T("imageState", img.State),
			T("imageOwnerId", "123456789012"), T("creationDate", isoTime(img.Created)), T("isPublic", "false"),
			T("architecture", "x86_64"), T("imageType", "machine"), T("name", img.Name), T("rootDeviceType", "ebs"), tagSet(img.Tags))
		if img.State == "failed" {
			x.Kids = append(x.Kids, E("stateReason", T("code", "Client.InternalError"), T("message", "Client.InternalError: snapshot failed")))
		}
		items = append(items, x)
	}
	out := E("", list("imagesSet", "item", items))
	if next != "" {
		out.Kids = append(out.Kids, T("nextToken", next))
	}
	return out, nil
}

func (c *Cloud) createImage(q *node) (*X, *apiError) {
	in := c.instances[q.str("InstanceId")]
	if in == nil {
		return nil, errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", q.str("InstanceId"))
	}
	if in.State != "running" && in.State != "stopped" {
		return nil, errorf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be imaged (%s)", in.ID, in.State)
	}
	name := q.str("Name")
	if len(name) < 3 || len(name) > 128 {
		return nil, errorf("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long")
	}
	for _, img := range c.images {
		if img.Name == name && img.State != "deregistered" {
			return nil, errorf("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, img.ID)
		}
	}
	tags := map[string]string{}
	for _, ts := range q.list("TagSpecification") {
		if ts.str("ResourceType") == "image" {
			for _, t := range ts.list("Tag") {
				tags[t.str("Key")] = t.str("Value")
			}
		}
	}
	c.seq++
	id := fmt.Sprintf("ami-%017x", 0xb000+c.seq)
	img := &Image{ID: id, Name: name, State: "pending", SourceInstance: in.ID, Tags: tags, Created: c.clock(), left: c.steps()}
	if fails := c.failures["fake:image"]; len(fails) > 0 {
		c.failures["fake:image"] = fails[1:]
		img.FailWhenDone = true
	}
	c.images[id] = img
	c.imgOrder = append(c.imgOrder, id)
	return E("", T("imageId", id)), nil
}

func (c *Cloud) createLaunchTemplateVersion(q *node) (*X, *apiError) {
	lt, source, err := c.resolveTemplate(q.str("LaunchTemplateId"), q.str("LaunchTemplateName"), q.str("SourceVersion"))
	if err != nil {
		return nil, err
	}
	token := q.str("ClientToken")
	n, seen := c.ltTokens[lt.ID+"/"+token]
	if token == "" || !seen {
		image := lt.Versions[source-1]
		if v := q.str("LaunchTemplateData", "ImageId"); v != "" {
			image = v
		}
		lt.Versions = append(lt.Versions, image)
		n = int64(len(lt.Versions))
		if token != "" {
			c.ltTokens[lt.ID+"/"+token] = n
		}
	}
	return E("", E("launchTemplateVersion",
		T("launchTemplateId", lt.ID), T("launchTemplateName", lt.Name), T("versionNumber", n),
		T("versionDescription", q.str("VersionDescription")), T("defaultVersion", n == int64(lt.DefaultVersion)),
		T("createTime", isoTime(c.clock())),
		E("launchTemplateData", T("imageId", lt.Versions[n-1])))), nil
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
