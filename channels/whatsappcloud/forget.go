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
	_, err := c.ForgetCounted(ctx, subject, ids)
	return err
}

// ForgetterName is "whatsapp-cloud", the name an erasure's forget record
// keeps while it owes this channel a Forget (see privacy.ForgetterNamer).
func (c *Channel) ForgetterName() string { return "whatsapp-cloud" }

// ForgetCounted is Forget that also says how many records went: files
// deleted at Meta and chats whose window state was dropped, for the
// erasure confirmation.
func (c *Channel) ForgetCounted(ctx context.Context, subject bot.SubjectID, ids []bot.Identity) (int, error) {
	chats := chatsOf(ids)
	if len(chats) == 0 {
		return 0, nil
	}
	owners := map[string]bool{}
	dropped := 0
	c.mu.Lock()
	for _, chat := range chats {
		if _, ok := c.windows[chat]; ok {
			dropped++
			delete(c.windows, chat)
		}
		owners[c.media.owner(chat)] = true
	}
	c.mu.Unlock()
	es, err := c.media.find(func(e mediaEntry) bool { return owners[e.Owner] })
	if err != nil {
		return dropped, fmt.Errorf("whatsappcloud forget: %w", err)
	}
	n, err := c.deleteEntries(ctx, es)
	if err != nil {
		return dropped + n, fmt.Errorf("whatsappcloud forget: %d of %d media deleted at Meta: %w", n, len(es), err)
	}
	c.log.Info().Str("subject", string(subject)).Int("media", n).Int("chats", dropped).Msg("forgot whatsapp cloud data")
	return dropped + n, nil
}
