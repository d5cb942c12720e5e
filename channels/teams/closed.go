package teams

import (
	"strings"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// closedReplyLine says on a card whether the customer got the business's
// closed-hours reply: "Closed-hours reply sent at 19:42" (in the viewer's
// time zone, with the date once it is not recent), or that it waits or did
// not go. None when the customer got none.
func closedReplyLine(c bot.Card, now time.Time) []any {
	r := c.ClosedReply
	if r == nil {
		return nil
	}
	var text string
	switch {
	case !r.SentAt.IsZero():
		at := r.SentAt.UTC().Format("2006-01-02T15:04:05Z")
		when := "{{TIME(" + at + ")}}"
		if !now.IsZero() && now.Sub(r.SentAt) >= 20*time.Hour {
			when = "{{DATE(" + at + ", SHORT)}} " + when
		}
		text = "Closed-hours reply sent at " + when
	case r.Status == bot.StatusFailed:
		text = strings.TrimSpace("The closed-hours reply was not sent. " + r.Reason)
	case r.Status == bot.StatusUnconfirmed:
		text = "The closed-hours reply may not have been sent."
	default:
		text = "Closed-hours reply waiting to be sent."
	}
	return []any{textBlock(text, obj{"isSubtle": true, "size": "Small", "spacing": "Small"})}
}
