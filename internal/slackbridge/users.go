package slackbridge

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// slackUserRE is a Slack user ID: U... in a workspace, W... in an Enterprise Grid org.
var slackUserRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// CheckUsers refuses a map that would not name anyone reliably.
func CheckUsers(users map[string]string) error {
	for id, who := range users {
		if !slackUserRE.MatchString(id) {
			return fmt.Errorf("users: %q is not a Slack user ID (like U0123ABCD; find it in the person's Slack profile, Copy member ID)", id)
		}
		if strings.TrimSpace(who) == "" {
			return fmt.Errorf("users: %s maps to no identity", id)
		}
	}
	return nil
}

// usersFile is the users file: Slack user IDs to the names release specs use as approvers.
//
//	users:
//	  U0123ABCD: alice
//	  U0456EFGH: bob
type usersFile struct {
	Users map[string]string `yaml:"users"`
}

// LoadUsers reads a users file (YAML, or JSON which is YAML too).
func LoadUsers(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f usersFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := CheckUsers(f.Users); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Users, nil
}
