// Package teams is Switchboard's Microsoft Teams channel: the Bot Framework
// endpoint (POST /api/messages) with its own token validator, outbound
// messages through github.com/infracloudio/msbotbuilder-go, staff and admin
// identities, and the Adaptive Cards staff use to approve drafts.
//
// Only cmd/switchboard imports it. It satisfies bot.Channel, bot.Notifier and
// bot.Forgetter; no Bot Framework or SDK type leaves the package.
//
// How msbotbuilder-go is used, and what guards each of its flaws:
//
//   - Inbound activities decode into the SDK's schema.Activity (activity.go).
//     Its types lose mention entities (schema.Entity has only a type) and
//     reject a non-object value or a malformed date, so those few fields are
//     decoded alongside, into side fields that shadow the SDK's.
//   - Inbound tokens are checked by our validator (validator.go) before
//     anything else; the SDK's ParseRequest is not used: its OpenID metadata
//     URL is hard coded, it accepts only the Bot Framework issuer, panics on a
//     token without a serviceurl claim and never refreshes keys on an unknown
//     key id. The handler writes invoke responses itself (the SDK cannot).
//   - Outbound messages, card updates and deletions go through the adapter
//     (core.NewBotAdapter, built on first use): ProactiveMessage with
//     TurnContext.SendActivity, UpdateActivity and DeleteActivity
//     (connector.go). Its AuthClient answers the SDK's token requests from
//     our client-credentials token source (tenant authority for single-tenant
//     bots, mutex, refresh five minutes early) and never fails at the
//     transport level, because the SDK panics when its token endpoint is
//     unreachable; so the SDK never reaches Microsoft's token endpoint itself.
//     Calls into the adapter are serialised (its token cache races) and a
//     panic in one becomes an error. Its ReplyClient captures the id of a
//     posted activity (the SDK drops it), checks that the SDK aimed at the
//     intended resource, escapes ids in the URL (the SDK joins them
//     unescaped), and carries the timeouts.
package teams
