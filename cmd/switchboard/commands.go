package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/drafts"
	"github.com/switchboard/switchboard/privacy"
)

// Replies of the admin commands. They hold no personal data.
const (
	msgAdminOnly       = bot.ReplyAdminOnly
	msgDisconnectUsage = "Usage: /disconnect whatsapp (unlinks the business's WhatsApp number from Switchboard)"
	msgNoWhatsApp      = "WhatsApp is not enabled in this Switchboard (--no-whatsapp)."
	msgDisconnected    = "WhatsApp is unlinked and its session keys are deleted. To connect again, restart Switchboard and scan the pairing QR code."
	msgDisconnectHalf  = "The WhatsApp session keys are deleted here, but WhatsApp could not be told: on the business phone, remove \"Switchboard\" under Settings, Linked devices."
	msgProfileFailed   = bot.ReplyTryLater
)

// adminHelp are the Admin lines of /help for the commands served here and
// by the Teams channel; the privacy service puts them in its one Admin
// section.
var adminHelp = []string{
	"/profile: the business profile AI drafts use; /profile help for how to change it",
	"/disconnect whatsapp: unlink the business's WhatsApp number",
	"/here: post draft cards in this conversation",
	"/admin add|remove <Entra object id>, /admin list: manage admins",
	"/snippet add <name> <text>, /snippet remove <name>, /snippet list: reply snippets staff can add under Edit",
}

// unlinker is the WhatsApp channel's "/disconnect whatsapp".
type unlinker interface {
	Unlink(ctx context.Context) error
}

// adminCommands is the bot.Commands the router gets: the Teams admins'
// /profile and /disconnect in front of the privacy service, which handles
// everything else.
type adminCommands struct {
	privacy     bot.Commands
	store       appStore
	log         zerolog.Logger
	drafter     *drafts.Drafter // nil without an LLM
	whatsapp    unlinker        // nil with --no-whatsapp or on the WhatsApp Business Platform
	noWhatsApp  string          // the /disconnect whatsapp reply without an unlinker; "" for msgNoWhatsApp
	profilePath string
	hours       *openingHours // nil: no closed-hours replies

	mu sync.Mutex // serialises /profile edits
}

var _ bot.Commands = (*adminCommands)(nil)

// Handle runs /profile and /disconnect for admins and passes every other
// command to the privacy service.
func (c *adminCommands) Handle(ctx context.Context, req bot.CommandRequest) (bot.Reply, error) {
	switch req.Command.Name {
	case "profile", "disconnect":
		if req.Platform != bot.Teams || req.Subject.Role != bot.RoleAdmin {
			c.refused(ctx, req)
			return bot.Reply{Text: msgAdminOnly}, nil
		}
		if req.Command.Name == "profile" {
			return c.profile(ctx, req), nil
		}
		return c.disconnect(ctx, req), nil
	}
	return c.privacy.Handle(ctx, req)
}

// Intercept passes plain text to the privacy service (pending confirmations).
func (c *adminCommands) Intercept(ctx context.Context, req bot.CommandRequest) (bot.Reply, bool, error) {
	return c.privacy.Intercept(ctx, req)
}

// refused logs and audits an admin command from someone who is not one.
func (c *adminCommands) refused(ctx context.Context, req bot.CommandRequest) {
	c.log.Info().Str("subject", string(req.Subject.ID)).Str("command", req.Command.Name).Msg("admin command refused")
	err := c.store.Audit(ctx, bot.AuditEntry{
		At: req.At, Actor: req.Subject.ID, Action: "refused", Subject: req.Subject.ID,
		Detail: "/" + req.Command.Name + ": not an admin",
	})
	if err != nil {
		c.log.Warn().Err(err).Msg("audit refused admin command")
	}
}

// profile runs /profile: show, help, or change and save the business profile.
func (c *adminCommands) profile(ctx context.Context, req bot.CommandRequest) bot.Reply {
	cmd, err := drafts.ParseProfileCommand(req.Command.Args)
	if err != nil {
		// Errors wrap drafts.ErrBadProfile and are safe to show.
		return bot.Reply{Text: err.Error() + "\n\n" + drafts.ProfileUsage}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, err := c.current()
	if err != nil {
		c.log.Error().Err(err).Msg("load profile")
		return bot.Reply{Text: msgProfileFailed}
	}
	switch cmd.Action {
	case drafts.ProfileHelp:
		return bot.Reply{Text: drafts.ProfileUsage}
	case drafts.ProfileShow:
		return bot.Reply{Text: c.note() + cur.Summary()}
	}
	next, err := cmd.Apply(cur)
	if err != nil {
		return bot.Reply{Text: err.Error()}
	}
	if err := drafts.SaveProfile(c.profilePath, next); err != nil {
		if errors.Is(err, drafts.ErrBadProfile) {
			return bot.Reply{Text: err.Error()}
		}
		c.log.Error().Err(err).Msg("save profile")
		return bot.Reply{Text: msgProfileFailed}
	}
	if c.drafter != nil {
		if err := c.drafter.SetProfile(next); err != nil {
			c.log.Error().Err(err).Msg("set profile")
			return bot.Reply{Text: msgProfileFailed}
		}
	}
	if c.hours != nil {
		c.hours.set(next)
	}
	c.log.Info().Str("subject", string(req.Subject.ID)).Str("action", string(cmd.Action)).Msg("business profile changed")
	return bot.Reply{Text: "Saved.\n" + c.note() + next.Summary()}
}

// current is the profile in use: the drafter's, else the file's, else the
// default.
func (c *adminCommands) current() (drafts.Profile, error) {
	if c.drafter != nil {
		return c.drafter.Profile(), nil
	}
	p, err := drafts.LoadProfile(c.profilePath)
	if errors.Is(err, fs.ErrNotExist) {
		return defaultProfile(), nil
	}
	if err != nil {
		return drafts.Profile{}, fmt.Errorf("load profile: %w", err)
	}
	return p, nil
}

// controller is who the privacy notice names, from the profile in use. A
// profile that cannot be read names nobody (the notice then says the
// business has not set it), and the placeholder business name of the
// default profile is no name.
func (c *adminCommands) controller() privacy.Controller {
	p, err := c.current()
	if err != nil {
		c.log.Warn().Err(err).Msg("profile unreadable: the privacy notice names no controller")
		return privacy.Controller{}
	}
	pc := p.Controller()
	if pc.TradingName == defaultProfile().BusinessName {
		pc.TradingName = ""
	}
	_, closedHours := p.Schedule()
	return privacy.Controller{LegalName: pc.LegalName, TradingName: pc.TradingName, Contact: pc.PrivacyContact, ICORegistration: pc.ICORegistration,
		ClosedHoursReply: closedHours}
}

// note says when the profile is not used for drafts.
func (c *adminCommands) note() string {
	if c.drafter == nil {
		return "(No AI model is configured, so drafts do not use this profile yet.)\n"
	}
	return ""
}

// disconnect runs /disconnect whatsapp.
func (c *adminCommands) disconnect(ctx context.Context, req bot.CommandRequest) bot.Reply {
	if !strings.EqualFold(strings.TrimSpace(req.Command.Args), "whatsapp") {
		return bot.Reply{Text: msgDisconnectUsage}
	}
	if c.whatsapp == nil {
		if c.noWhatsApp != "" {
			return bot.Reply{Text: c.noWhatsApp}
		}
		return bot.Reply{Text: msgNoWhatsApp}
	}
	log := c.log.With().Str("subject", string(req.Subject.ID)).Logger()
	if err := c.whatsapp.Unlink(ctx); err != nil {
		log.Error().Err(err).Msg("whatsapp disconnect: WhatsApp not told; local keys deleted")
		return bot.Reply{Text: msgDisconnectHalf}
	}
	log.Warn().Msg("whatsapp disconnected by an admin")
	return bot.Reply{Text: msgDisconnected}
}
