// Package crashtest holds the crash test (crash_test.go): the real store
// and router run in a child process that is killed with SIGKILL at random
// moments while customers write, staff approve, replies go out and people
// erase their data; after every kill the child starts again on the same
// data, and at the end the test checks that no acknowledged message was
// lost, no reply was shown twice, every card is recorded (or deleted), no
// erased person's key is left and both databases pass integrity_check.
//
// go test ./internal/crashtest runs 24 kills; -crash.kills=N runs more.
package crashtest
