// Package bot holds Switchboard's domain types, the small interfaces the core
// consumes (channels, staff notifier, drafter, store, commands) and the Router
// that runs a message from a customer's chat to a staff card and back.
//
// Every other package of the module imports bot; bot imports none of them.
// Channel adapters, the store, the drafter and the privacy engine satisfy the
// interfaces declared here by shape, and cmd/switchboard wires them together.
package bot
