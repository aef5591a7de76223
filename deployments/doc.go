// Package deployments holds the ways to run zerodown for real (systemd, Kubernetes,
// Compose, a container image, Prometheus rules and a Grafana dashboard). It has no code:
// its tests check those files against the tools and the API types that will read them.
package deployments
