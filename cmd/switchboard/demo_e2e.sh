#!/bin/sh
# End-to-end test of `switchboard demo`, as a newcomer runs it: the demo,
# the Microsoft 365 Agents Playground as the staff side, and the customer
# simulator page in headless Chromium (Debian's, at /usr/bin/chromium, or
# SWITCHBOARD_CHROMIUM) driven by playwright-core. Installs the pinned
# playground and playwright-core with npm into a cache directory (the
# browser is never downloaded), then runs TestDemoEndToEnd with
# SWITCHBOARD_DEMO_E2E=1, so that it fails rather than skips when
# something is missing. Screenshots go to SWITCHBOARD_ARTIFACTS (default:
# switchboard-demo-e2e in the temporary directory).
set -eu
PLAYGROUND_VERSION=0.2.28
PLAYWRIGHT_VERSION=1.65.1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/switchboard
PG_DIR=${SWITCHBOARD_PLAYGROUND_DIR:-$CACHE/playground-$PLAYGROUND_VERSION}
PW_DIR=${SWITCHBOARD_PLAYWRIGHT_DIR:-$CACHE/playwright-core-$PLAYWRIGHT_VERSION}
if [ ! -x "$PG_DIR/node_modules/.bin/agentsplayground" ]; then
	mkdir -p "$PG_DIR"
	(cd "$PG_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund "@microsoft/m365agentsplayground@$PLAYGROUND_VERSION")
fi
if [ ! -f "$PW_DIR/node_modules/playwright-core/index.mjs" ]; then
	mkdir -p "$PW_DIR"
	(cd "$PW_DIR" && npm init -y >/dev/null && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund "playwright-core@$PLAYWRIGHT_VERSION")
fi
CHROMIUM=${SWITCHBOARD_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "demo_e2e.sh: no Chromium at $CHROMIUM (apt-get install -y --no-install-recommends chromium)" >&2
	exit 1
fi
cd "$(dirname "$0")"
SWITCHBOARD_PLAYGROUND="$PG_DIR/node_modules/.bin/agentsplayground" \
	SWITCHBOARD_PLAYWRIGHT_CORE="$PW_DIR/node_modules/playwright-core" \
	SWITCHBOARD_CHROMIUM="$CHROMIUM" SWITCHBOARD_DEMO_E2E=1 TEAMSAPPTESTER_BROWSER=none \
	exec go test -run '^TestDemoEndToEnd$' -count=1 -v .
