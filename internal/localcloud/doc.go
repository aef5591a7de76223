// Package localcloud is the loopback analogue of EC2 instances in an ALB target group.
//
// The daemon (run by `zerodown localcloud`) starts instances as child processes on free
// loopback ports, fronts them with an L7 load balancer (HTTP/1.1 keep-alive and
// WebSocket pass-through, active health checks, per-version weights, connection
// draining) and serves a small JSON API (see package api) that fleet/local drives.
//
// It is its own process so that the fleet and its traffic outlive a worker crash, and
// it keeps its state in a JSON file so that a restarted daemon adopts the instances it
// left running instead of leaking or doubling them.
package localcloud
