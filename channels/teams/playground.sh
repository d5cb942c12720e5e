#!/bin/sh
# End-to-end test of the Teams channel against the Microsoft 365 Agents
# Playground, headless. Installs the pinned playground with npm into a cache
# directory, then runs TestPlaygroundEndToEnd, which starts the channel in dev
# mode on 127.0.0.1 and the playground pointing at it, and drives the
# playground's local HTTP and WebSocket routes, and cmd/switchboard's
# TestPlaygroundBinary, which does the same with the bot wired as the binary
# runs it (router, store, privacy and admin commands).
set -eu
VERSION=0.2.28
DIR=${SWITCHBOARD_PLAYGROUND_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/playground-$VERSION}
if [ ! -x "$DIR/node_modules/.bin/agentsplayground" ]; then
	mkdir -p "$DIR"
	(cd "$DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund "@microsoft/m365agentsplayground@$VERSION")
fi
cd "$(dirname "$0")"
SWITCHBOARD_PLAYGROUND="$DIR/node_modules/.bin/agentsplayground" TEAMSAPPTESTER_BROWSER=none \
	exec go test -run 'TestPlaygroundEndToEnd|TestPlaygroundBinary' -count=1 -v . ../../cmd/switchboard
