package workerapp_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/slack"
)

func TestNotifierFromEnv(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	t.Setenv(workerapp.SlackBotTokenEnv, "")
	require.IsType(t, &notify.Log{}, workerapp.NotifierFromEnv(logger), "no token: the events go to the log")
	t.Setenv(workerapp.SlackBotTokenEnv, "xoxb-1")
	require.IsType(t, &slack.Notifier{}, workerapp.NotifierFromEnv(logger))
}
