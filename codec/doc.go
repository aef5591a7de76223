// Package codec encrypts Temporal payloads (release specs, changelogs, statuses) with
// AES-256-GCM before they leave the process, so that workflow history holds ciphertext
// only. Keys have IDs: each payload names the key that sealed it, so keys rotate by adding
// a new current key while older ones still open older history. NewServer serves the
// Temporal remote codec protocol (/decode, optionally /encode) for the Temporal UI and
// `temporal --codec-endpoint`.
//
// What stays readable: workflow IDs (release/<service>/<environment>), workflow and
// activity type names, the task queue, search attributes (ZerodownService,
// ZerodownEnvironment, ZerodownVersion, ZerodownPhase, ZerodownChange), timer and event
// metadata, failure messages (the SDK's failure converter keeps them in clear unless told
// otherwise). See README.md and docs/production.md.
package codec
