// Package teams is Switchboard's Microsoft Teams channel: the Bot Framework
// endpoint (POST /api/messages) with its own token validator, outbound
// messages through the Bot Connector REST API, staff and admin identities,
// and the Adaptive Cards staff use to approve drafts.
//
// Only cmd/switchboard imports it. It satisfies bot.Channel, bot.Notifier and
// bot.Forgetter; no Bot Framework wire type leaves the package.
//
// msbotbuilder-go is not used at run time: its validator has a hard-coded
// metadata URL, panics on tokens without a serviceurl claim and never refreshes
// on an unknown key id; its connector client races on its token cache,
// panics when the token endpoint is unreachable, drops the id of posted
// activities and loses mention entities and non-object values. The wire
// format it models is small, so the package speaks it directly.
package teams
