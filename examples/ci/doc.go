// Package ci holds CI pipeline examples that validate release specs and release on a tag
// (github-actions.yaml, gitlab-ci.yml); its tests check them against the zerodown CLI.
package ci
