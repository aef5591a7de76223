// Package localcloud is the loopback analogue of EC2 instances in an ALB target group.
//
// The daemon (`zerodown localcloud --listen 127.0.0.1:7070 --lb 127.0.0.1:8080
// --state-dir DIR`, or Run from Go) starts instances as child processes on free
// loopback ports, fronts them with an L7 load balancer and serves a small JSON API
// (wire types in package api) that fleet/local drives:
//
//	POST /v1/instances  {key, version, count, command, env, healthPath} -> {instances, created}
//	GET  /v1/state      instances (?all=1 also terminated ones), weights, and routed:
//	                    the answers relayed per version, the share each really took
//	POST /v1/attach     {ids}            404 for an unknown id, 409 for a dead one
//	POST /v1/detach     {ids, drainTimeout}
//	PUT  /v1/weights    {version: weight}; {} goes back to an equal share per instance
//	POST /v1/terminate  {ids} or {all: true}; unknown and terminated ids are fine
//	GET  /v1/healthz
//	POST /v1/shutdown   {terminate, keepInstances}
//
// Errors are {"error": "..."} with 400 for bad input, 404 for unknown ids and 409 for
// a launch key reused for another launch or an instance in the wrong state.
//
// Instances run the launch's command template ({{.Version}}, {{.Port}}, {{.ID}},
// {{.Image}}) in their own process group, with PORT, ZERODOWN_INSTANCE_ID and
// ZERODOWN_VERSION set, writing to DIR/logs/<id>.log. Terminate sends SIGTERM to the
// group and SIGKILL after the grace period.
//
// The load balancer proxies HTTP/1.1 (keep-alive) and WebSockets. It routes only to
// attached instances that passed their health checks, gives each version exactly its
// weight's share of requests (a smooth weighted round robin over versions, an instance
// of the version at random), keeps a client that sends back its zerodown_bucket cookie
// on its version while the version serves (attached, healthy, weight above 0; a growing
// canary only gains users), retries once elsewhere when a target refuses the connection, names the serving
// instance in X-Zerodown-Instance, and drains detached instances: in-flight requests
// finish and WebSockets stay open until they close or the drain deadline passes.
//
// It is its own process so that the fleet and its traffic outlive a worker crash.
// State lives in DIR/state.json (written atomically), so a restarted daemon adopts
// the instances it left running, with their ports and load balancer membership;
// DIR/targets.json lists them for Prometheus file-based service discovery. A restart
// costs clients nothing when a supervisor holds the sockets: the daemon serves the API
// and load balancer listeners it is passed (Config.APIListener and LBListener, or
// systemd socket activation: LISTEN_FDS with LISTEN_FDNAMES=api:lb, see ListenEnv),
// connections wait in the kernel's queue while no daemon runs, and a shutdown with
// keepInstances leaves the instances to the next daemon even under --terminate-on-exit.
package localcloud
