package schemas

// The in-place deploy: how a version is put on one fixed server, and the templates of
// its command.

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Deploy says how a version is put on one fixed server (an Ansible play limited to it, a
// script, an ssh command). The command runs on the worker's machine in the clean
// environment of command hooks; it is no shell unless it says `sh -c`.
type Deploy struct {
	// Command is the program and its arguments; each argument is a template that may use
	// {{.Server}}, {{.Address}}, {{.Version}} and {{.Vars.name}} (DeployVars), nothing else.
	Command []string `json:"command"`
	// Timeout bounds one deploy on one server; past it the command is killed and the
	// release rolls back.
	Timeout Duration `json:"timeout,omitempty"`
	// PassEnv names variables of the worker's environment handed to the command (an ssh
	// agent socket, a vault token); their values never enter the spec or the history.
	PassEnv []string `json:"passEnv,omitempty"`
	// Env sets variables to fixed values: part of the spec and of the history, no secret.
	Env map[string]string `json:"env,omitempty"`
}

// defaultDeployTimeout bounds a deploy whose spec gives no timeout.
const defaultDeployTimeout = 10 * time.Minute

// TimeoutOrDefault bounds one deploy on one server.
func (d Deploy) TimeoutOrDefault() time.Duration { return orDefault(d.Timeout, defaultDeployTimeout) }

// DeployVars is what a deploy command's templates see for one server.
type DeployVars struct {
	Server  string            // the server's name in the backend
	Address string            // host:port where it answers directly, "" if the spec has none
	Version string            // the version to put on it
	Vars    map[string]string // the server's vars in target.haproxy.servers
}

// deployFields are the fields a deploy template may name.
var deployFields = map[string]bool{"Server": true, "Address": true, "Version": true}

// deployVersionRE is what a version put on a server in place may be: deploy commands
// hand it to Ansible, ssh and remote shells, where anything else could be a command.
var deployVersionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+:~-]{0,127}$`)

// CheckDeployVersion refuses a version a deploy command must not be handed.
func CheckDeployVersion(v string) error {
	if !deployVersionRE.MatchString(v) {
		return fmt.Errorf("version: %q is not a version an in-place deploy accepts: letters and digits, then also '.', '_', '+', ':', '~' or '-', at most 128", clip(v))
	}
	return nil
}

// InPlace says whether a spec upgrades fixed servers where they stand.
func (s *Spec) InPlace() bool {
	return s.Target.Provider == ProviderHAProxy && s.Target.HAProxy != nil && len(s.Target.HAProxy.Servers) > 0
}

// parseDeployArg parses one argument of deploy.command and returns the vars it names.
// Only plain field references are allowed: no pipelines, functions, conditions or
// template calls, so rendering takes time and memory linear in the argument.
func parseDeployArg(arg string) ([]string, error) {
	t, err := template.New("arg").Option("missingkey=error").Parse(arg)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("defines a template; only {{.Server}}, {{.Address}}, {{.Version}} and {{.Vars.name}} may be used")
	}
	var vars []string
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
		case *parse.ActionNode:
			name, err := deployField(n)
			if err != nil {
				return nil, err
			}
			if v, ok := strings.CutPrefix(name, "Vars."); ok {
				vars = append(vars, v)
			}
		default:
			return nil, fmt.Errorf("%s: only {{.Server}}, {{.Address}}, {{.Version}} and {{.Vars.name}} may be used", clip(n.String()))
		}
	}
	return vars, nil
}

// deployField is the field an action names, or why it is refused.
func deployField(n *parse.ActionNode) (string, error) {
	refuse := fmt.Errorf("%s: only {{.Server}}, {{.Address}}, {{.Version}} and {{.Vars.name}} may be used", clip(n.String()))
	if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
		return "", refuse
	}
	f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok {
		return "", refuse
	}
	switch {
	case len(f.Ident) == 1 && deployFields[f.Ident[0]]:
		return f.Ident[0], nil
	case len(f.Ident) == 2 && f.Ident[0] == "Vars":
		return "Vars." + f.Ident[1], nil
	}
	return "", refuse
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// DeployCommand renders the deploy command of one server. The spec must have passed
// Validate, which refuses templates beyond plain fields and vars a server lacks.
func (d Deploy) DeployCommand(v DeployVars) ([]string, error) {
	if err := CheckDeployVersion(v.Version); err != nil {
		return nil, err
	}
	out := make([]string, len(d.Command))
	for i, arg := range d.Command {
		if _, err := parseDeployArg(arg); err != nil {
			return nil, fmt.Errorf("deploy.command[%d]: %v", i, err)
		}
		t, err := template.New("arg").Option("missingkey=error").Parse(arg)
		if err != nil {
			return nil, fmt.Errorf("deploy.command[%d]: %v", i, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, v); err != nil {
			return nil, fmt.Errorf("deploy.command[%d] for server %s: %v", i, v.Server, err)
		}
		if b.Len() > MaxArgLength {
			return nil, fmt.Errorf("deploy.command[%d] for server %s: %d characters once rendered, at most %d", i, v.Server, b.Len(), MaxArgLength)
		}
		out[i] = b.String()
	}
	return out, nil
}

// checkDeploy ties deploy to the target: required for fixed servers, refused elsewhere;
// each argument a template of plain fields, each var named known to every server; and
// the servers out at once (promote.maxUnavailable, promote.batch) leaving
// promote.minHealthy in service.
func checkDeploy(s *Spec, add func(path, format string, args ...any)) {
	inPlace := s.InPlace()
	switch {
	case s.Deploy == nil && inPlace:
		add("deploy", "is required with target.haproxy.servers: it says how a version is put on one server where it stands")
		return
	case s.Deploy == nil:
		return
	case !inPlace:
		add("deploy", "is only for fixed servers upgraded in place (target.provider haproxy with target.haproxy.servers); provider %s launches its instances", s.Target.Provider)
		return
	}
	servers := s.Target.HAProxy.Servers
	for i, arg := range s.Deploy.Command {
		path := fmt.Sprintf("deploy.command[%d]", i)
		vars, err := parseDeployArg(arg)
		if err != nil {
			add(path, "%v", err)
			continue
		}
		for _, v := range vars {
			for j, srv := range servers {
				if _, ok := srv.Vars[v]; !ok {
					add(path, "uses {{.Vars.%s}} but target.haproxy.servers[%d] (%s) has no vars.%s", v, j, srv.Name, v)
					break
				}
			}
		}
	}
	n := len(servers)
	if s.Target.Instances != n {
		add("target.instances", "is %d but target.haproxy.servers lists %d servers; upgraded in place, the fleet is its servers", s.Target.Instances, n)
	}
	out := InPlaceOutAtOnce(s)
	if need := max(1, s.Promote.MinHealthy); n-out < need {
		add("promote.minHealthy", "is %d but with %d servers and %d out at once (promote.maxUnavailable, promote.batch) only %d would serve", s.Promote.MinHealthy, n, out, n-out)
	}
}

// InPlaceOutAtOnce is how many fixed servers an in-place release upgrades at once: the
// batch, at most promote.maxUnavailable, and at least one (a server upgraded where it
// stands must leave service, so maxUnavailable 0 counts as 1).
func InPlaceOutAtOnce(s *Spec) int {
	n := max(1, s.Target.Instances)
	b := strings.TrimSpace(s.Promote.BatchOrDefault())
	size := 1
	if pct, ok := strings.CutSuffix(b, "%"); ok {
		var v int
		_, _ = fmt.Sscan(pct, &v)
		size = CeilPercent(n, min(max(v, 0), 100))
	} else {
		_, _ = fmt.Sscan(b, &size)
	}
	return max(1, min(size, max(1, s.Promote.MaxUnavailable)))
}
