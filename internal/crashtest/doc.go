// Package crashtest holds the crash test (crash_test.go): the real store
// and router run in a child process that is killed with SIGKILL at random
// moments while customers write, staff approve, replies go out and people
// erase their data; after every kill the child starts again on the same
// data, and at the end the test checks that no acknowledged message was
// lost, no reply was shown twice, every card is recorded (or deleted), no
// erased person's key is left, every erased person's forgetter ran with
// their number and no forget is left pending, and both databases pass
// integrity_check.
//
// Erasures go through the privacy engine (an admin's /forget <number> and
// YES) with a forgetter that stands for a channel's own data: it tells the
// parent the identities it was handed, and one call in five fails, as a
// channel that is down; the child's privacy Run resumes the forgets an
// earlier child left and retries the failed ones.
//
// Half the customers are on WhatsApp through the real WhatsApp Business
// Platform channel (channels/whatsappcloud): signed webhooks in, the child's
// sends to cloudtest's Graph API in the parent, which takes some messages
// and then drops the connection, answers after the client's timeout or
// answers 500, refuses some with a 5xx or a rate limit, and sends status
// webhooks with the reply's key (some lost); the child's dialer refuses
// some connections. The test prints how many replies end unconfirmed (Meta
// took them but their status was lost, or never took them): those are the
// replies staff must check.
//
// go test ./internal/crashtest runs 24 kills; -crash.kills=N runs more,
// -crash.receipt-loss=F loses that share of status webhooks.
package crashtest
