#!/bin/sh
# One-shot set-up for docker-compose.yml (runs in temporalio/admin-tools once the server is up):
# creates the namespace with the configured retention, or sets that retention on an existing one, so
# changing TEMPORAL_NAMESPACE_RETENTION and running `docker compose up` again applies it.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
# How long a closed saga stays readable (GET /v1/connections/{id}, the Web UI) before deletion.
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-30d}"
DEADLINE_SECONDS="${SETUP_TIMEOUT_SECONDS:-180}"
# Anything but digits would make every deadline test below fail as an error, waiting for ever.
case "$DEADLINE_SECONDS" in
  '' | *[!0-9]*)
    echo "temporal-namespace: SETUP_TIMEOUT_SECONDS must be a whole number of seconds, e.g. 180 (got \"$DEADLINE_SECONDS\")" >&2
    exit 1
    ;;
esac

started=$(date +%s)
# The CLI's own error is shown, so a wrong address or an unreachable server is named.
until reason=$(temporal operator cluster health --address "$ADDRESS" 2>&1); do
  reason=$(printf '%s' "$reason" | tr '\n' ' ' | cut -c1-300)
  if [ $(( $(date +%s) - started )) -ge "$DEADLINE_SECONDS" ]; then
    echo "temporal-namespace: Temporal at $ADDRESS not healthy after ${DEADLINE_SECONDS}s: $reason" >&2
    exit 1
  fi
  echo "temporal-namespace: waiting for Temporal at $ADDRESS ($reason) ..."
  sleep 2
done

# Sets the retention on the existing namespace. Describe reads the database, but the update is
# refused as "not found" for some seconds after the namespace was created (a second `docker compose
# up` moments after the first), until it reaches the frontend's namespace cache: wait that out. Any
# other refusal (a bad retention) fails at once.
set_retention() {
  until output=$(temporal operator namespace update --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION" 2>&1)
  do
    case "$output" in
      *"not found"*) ;;
      *) printf '%s\n' "$output" >&2; exit 1 ;;
    esac
    if [ $(( $(date +%s) - started )) -ge "$DEADLINE_SECONDS" ]; then
      printf '%s\n' "$output" >&2
      echo "temporal-namespace: namespace $NAMESPACE at $ADDRESS not served after ${DEADLINE_SECONDS}s" >&2
      exit 1
    fi
    echo "temporal-namespace: waiting for namespace $NAMESPACE to be served ..."
    sleep 2
  done
  printf '%s\n' "$output"
  echo "temporal-namespace: namespace $NAMESPACE exists; retention set to $RETENTION"
}

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  set_retention
elif output=$(temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION" 2>&1); then
  printf '%s\n' "$output"
  echo "temporal-namespace: created namespace $NAMESPACE with retention $RETENTION"
else
  case "$output" in
    # The describe failed for another reason (a moment's timeout): the namespace is there.
    *"already exists"*) set_retention ;;
    *) printf '%s\n' "$output" >&2; exit 1 ;;
  esac
fi
