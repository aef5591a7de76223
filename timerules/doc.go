// Package timerules holds the clock rules of a release or a change: windows in which it
// may change the fleet, a deadline by which it must decide to roll back, and the time of
// a go/no-go call. Every function is pure and deterministic: instants come from the
// caller (a workflow passes workflow.Now), nothing reads the clock, starts goroutines
// or ranges over a map, so workflow code can call them and replay gets the same answers.
//
// Wall-clock times are resolved with one rule everywhere: a time of day that does not
// exist on a day (the hour skipped when clocks go forward) means the first instant that
// exists after it, and a time of day that occurs twice (clocks go back) means the first
// of the two. So a window on a night the clocks change is neither skipped nor doubled.
package timerules

// The time zone database is embedded so that every binary (worker, CLI, a container
// without /usr/share/zoneinfo) can load every IANA zone: time.LoadLocation looks in
// $ZONEINFO and the system's database first and falls back to this copy, so a worker
// never fails a release for want of a zone file, and the zones resolve to the same rules
// on every machine built from the same Go release. The cost is about 450 KB of binary.
import _ "time/tzdata"
