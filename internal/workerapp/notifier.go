package workerapp

import (
	"log/slog"
	"os"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/slack"
)

// SlackBotTokenEnv names the bot token (xoxb-...) of the Slack app that posts release
// threads. It is the worker's configuration, never the spec's: specs only name channels.
const SlackBotTokenEnv = "SLACK_BOT_TOKEN"

// NotifierFromEnv is the worker's notifier: Slack when $SLACK_BOT_TOKEN is set, else the
// worker's log, so that a worker without Slack still records what it would have posted.
func NotifierFromEnv(logger *slog.Logger) notify.Notifier {
	if token := os.Getenv(SlackBotTokenEnv); token != "" {
		return slack.New(token, slack.Options{Logger: logger})
	}
	return notify.NewLog(logger)
}
