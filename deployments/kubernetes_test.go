package deployments_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	yaml3 "gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// kubeObject is one decoded manifest document.
type kubeObject struct {
	file, kind, name string
	obj              any
}

// kubeTypes are the kinds the manifests may hold, each decoded into its API type.
var kubeTypes = map[string]func() any{
	"apps/v1/Deployment":            func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
	"v1/Service":                    func() any { return &corev1.Service{} },
	"v1/ServiceAccount":             func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                  func() any { return &corev1.ConfigMap{} },
	"v1/Namespace":                  func() any { return &corev1.Namespace{} },
}

// kubeManifests decodes every document of deployments/kubernetes strictly: YAML to JSON,
// then into the API type with unknown fields refused, so that a misspelt field (or one
// at the wrong level) fails here instead of being dropped by kubectl apply.
func kubeManifests(t *testing.T) []kubeObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var objs []kubeObject
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		dec := yaml3.NewDecoder(bytes.NewReader(raw))
		for i := 0; ; i++ {
			var doc yaml3.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else {
				require.NoError(t, err, "%s document %d", file, i)
			}
			if len(doc.Content) == 0 {
				continue // a document of comments only
			}
			text, err := yaml3.Marshal(&doc)
			require.NoError(t, err)
			js, err := yaml.YAMLToJSONStrict(text) // duplicate keys fail too
			require.NoError(t, err, "%s document %d", file, i)
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			require.NoError(t, json.Unmarshal(js, &head))
			newObj, ok := kubeTypes[head.APIVersion+"/"+head.Kind]
			require.True(t, ok, "%s document %d: unexpected kind %s/%s", file, i, head.APIVersion, head.Kind)
			obj := newObj()
			jd := json.NewDecoder(bytes.NewReader(js))
			jd.DisallowUnknownFields()
			require.NoError(t, jd.Decode(obj), "%s: %s %s", file, head.Kind, head.Metadata.Name)
			objs = append(objs, kubeObject{file: filepath.Base(file), kind: head.Kind, name: head.Metadata.Name, obj: obj})
		}
	}
	return objs
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	objs := kubeManifests(t)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.kind+"/"+o.name)
	}
	for _, want := range []string{
		"Deployment/zerodown-worker", "PodDisruptionBudget/zerodown-worker",
		"Deployment/zerodown-slack-bridge", "Service/zerodown-slack-bridge",
	} {
		require.Contains(t, kinds, want)
	}
}

// What the worker's Deployment promises: two replicas, a budget that keeps one, probes
// and Prometheus on a declared port, secrets only by reference, commands the CLI knows.
func TestKubernetesWorkloads(t *testing.T) {
	objs := kubeManifests(t)
	byName := map[string]any{}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, o := range objs {
		byName[o.kind+"/"+o.name] = o.obj
		if cm, ok := o.obj.(*corev1.ConfigMap); ok {
			configMaps[cm.Name] = cm
		}
	}
	worker := byName["Deployment/zerodown-worker"].(*appsv1.Deployment)
	require.NotNil(t, worker.Spec.Replicas)
	require.EqualValues(t, 2, *worker.Spec.Replicas)
	pdb := byName["PodDisruptionBudget/zerodown-worker"].(*policyv1.PodDisruptionBudget)
	require.Equal(t, worker.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels, "the budget covers the worker pods")
	require.NotNil(t, pdb.Spec.MinAvailable)
	require.Less(t, pdb.Spec.MinAvailable.IntValue(), int(*worker.Spec.Replicas), "a budget of every replica would block node drains")

	for _, name := range []string{"zerodown-worker", "zerodown-slack-bridge"} {
		d := byName["Deployment/"+name].(*appsv1.Deployment)
		pod := d.Spec.Template
		require.Equal(t, d.Spec.Selector.MatchLabels, subset(pod.Labels, d.Spec.Selector.MatchLabels), "%s: selector matches its pods", name)
		require.GreaterOrEqual(t, *pod.Spec.TerminationGracePeriodSeconds, int64(35), "%s: graceful stop needs 30s + 5s", name)
		for _, c := range pod.Spec.Containers {
			require.Equal(t, imageTag(t), c.Image, "%s: the image make image and the Dockerfile build", name)
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
				require.NotNil(t, probe, "%s/%s: liveness and readiness probes", name, c.Name)
				require.NotNil(t, probe.HTTPGet)
				require.Equal(t, "/healthz", probe.HTTPGet.Path, "the worker and the bridge serve /healthz")
				_, declared := ports[probe.HTTPGet.Port.String()]
				require.True(t, declared, "%s/%s: probe port %s is not a declared container port", name, c.Name, probe.HTTPGet.Port.String())
			}
			// The listen flag must listen on the declared port, on all interfaces.
			listen := flagValue(c.Args, map[string]string{"zerodown-worker": "--metrics", "zerodown-slack-bridge": "--listen"}[name])
			require.True(t, strings.HasPrefix(listen, "0.0.0.0:"), "%s listens on %q: the kubelet cannot reach loopback", name, listen)
			require.True(t, slices.Contains(mapValues(ports), atoi32(t, strings.TrimPrefix(listen, "0.0.0.0:"))), "%s: %s is not a declared port", name, listen)
			// Secrets come from Secrets by reference, never as literal values.
			for _, e := range c.Env {
				if secretish(e.Name) {
					require.Empty(t, e.Value, "%s: %s must come from a Secret", name, e.Name)
					require.NotNil(t, e.ValueFrom, "%s: %s", name, e.Name)
					require.NotNil(t, e.ValueFrom.SecretKeyRef, "%s: %s from a secretKeyRef", name, e.Name)
				}
			}
			for _, src := range c.EnvFrom {
				if src.ConfigMapRef != nil {
					cm := configMaps[src.ConfigMapRef.Name]
					require.NotNil(t, cm, "%s: ConfigMap %s is not in the manifests", name, src.ConfigMapRef.Name)
					for k := range cm.Data {
						require.False(t, secretish(k), "ConfigMap %s holds %s: put it in a Secret", cm.Name, k)
					}
				}
			}
			// The command line parses with the real CLI.
			argv := append(append([]string{}, c.Command...), c.Args...)
			out, code := runCLI(argv[0], argv[1:])
			require.Equal(t, 0, code, "%s: %v\n%s", name, argv, out)
		}
	}

	svc := byName["Service/zerodown-slack-bridge"].(*corev1.Service)
	bridge := byName["Deployment/zerodown-slack-bridge"].(*appsv1.Deployment)
	require.Equal(t, bridge.Spec.Selector.MatchLabels, subset(bridge.Spec.Template.Labels, svc.Spec.Selector), "the Service selects the bridge pods")
	for _, p := range svc.Spec.Ports {
		found := false
		for _, cp := range bridge.Spec.Template.Spec.Containers[0].Ports {
			found = found || cp.Name == p.TargetPort.String() || cp.ContainerPort == p.TargetPort.IntVal
		}
		require.True(t, found, "Service port %s targets no bridge container port", p.Name)
	}
}

func secretish(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "TOKEN") || strings.Contains(n, "SECRET") || strings.Contains(n, "API_KEY") || strings.Contains(n, "PASSWORD")
}

func subset(labels, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

func mapValues(m map[string]int32) []int32 {
	var out []int32
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func atoi32(t *testing.T, s string) int32 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 32)
	require.NoError(t, err, "port %q", s)
	return int32(n)
}
