package whatsappcloud

import (
	"context"
	"fmt"

	"github.com/switchboard/switchboard/bot"
)

// Forget erases what the channel keeps about the person ids name: the
// window state of their chats (in memory), and every media id at Meta that
// belongs to them, uploaded documents (an /export) and files they sent
// alike, which it deletes at Meta (DELETE /{media-id}) and then drops from
// whatsappcloud-media.json. A media id Meta does not know any more counts as
// deleted; one it could not be asked about stays listed, Forget returns an
// error, and the daily sweep or a later erasure deletes it. It works
// whether or not Run is running.
func (c *Channel) Forget(ctx context.Context, subject bot.SubjectID, ids []bot.Identity) error {
	chats := chatsOf(ids)
	if len(chats) == 0 {
		return nil
	}
	owners := map[string]bool{}
	c.mu.Lock()
	for _, chat := range chats {
		delete(c.windows, chat)
		owners[c.media.owner(chat)] = true
	}
	c.mu.Unlock()
	es, err := c.media.find(func(e mediaEntry) bool { return owners[e.Owner] })
	if err != nil {
		return fmt.Errorf("whatsappcloud forget: %w", err)
	}
	n, err := c.deleteEntries(ctx, es)
	if err != nil {
		return fmt.Errorf("whatsappcloud forget: %d of %d media deleted at Meta: %w", n, len(es), err)
	}
	c.log.Info().Str("subject", string(subject)).Int("media", n).Msg("forgot whatsapp cloud data")
	return nil
}
