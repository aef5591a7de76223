package slack

import (
	"strings"
)

// mentions writes the people a reminder or an escalation calls on as Slack pings them:
// <@U…> for a user, <!subteam^S…> for a user group. An @handle is shown as written
// (escaped): Slack's API pings IDs only. The entries come from the spec, which allows
// only these forms (schemas.Remind); anything else is shown escaped, never as markup.
func mentions(people []string) string {
	if len(people) == 0 {
		return ""
	}
	out := make([]string, 0, len(people))
	for _, p := range people {
		out = append(out, mention(p))
	}
	return strings.Join(out, " ") + " "
}

func mention(p string) string {
	if len(p) < 3 || !idChars(p[1:]) {
		return escape(p)
	}
	switch p[0] {
	case 'U', 'W':
		return "<@" + p + ">"
	case 'S':
		return "<!subteam^" + p + ">"
	}
	return escape(p)
}

// idChars reports whether s has only the characters of a Slack ID.
func idChars(s string) bool {
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
