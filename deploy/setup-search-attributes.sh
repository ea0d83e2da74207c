#!/bin/sh
# One-shot set-up in temporalio/admin-tools (docker-compose.yml's temporal-setup, the Kubernetes
# Job): waits until the Temporal server serves the namespace, then creates the saga's custom search
# attributes. Safe to run again: attributes that already exist are left alone. deploy/k8s/base/
# holds a copy, as kustomize reads files only below its folder; test/k8s.test.ts keeps them equal.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
# Keep in step with SEARCH_ATTRIBUTE_NAMES in common/messages.ts (test/compose.test.ts checks it).
ATTRIBUTES="TrayExternalUserId TraySolutionId TraySolutionInstanceId ConnectStep"
DEADLINE_SECONDS="${SETUP_TIMEOUT_SECONDS:-180}"

started=$(date +%s)
# Wait on the listing itself, not on `namespace describe`: a namespace created a moment ago already
# describes, but other calls answer "not found" for some seconds more, until it reaches the
# frontend's namespace cache.
until existing=$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>/dev/null); do
  if [ $(( $(date +%s) - started )) -ge "$DEADLINE_SECONDS" ]; then
    echo "temporal-setup: namespace $NAMESPACE at $ADDRESS not ready after ${DEADLINE_SECONDS}s" >&2
    exit 1
  fi
  echo "temporal-setup: waiting for namespace $NAMESPACE at $ADDRESS ..."
  sleep 2
done

for name in $ATTRIBUTES; do
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "temporal-setup: search attribute $name already exists"
  else
    temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type Keyword
    echo "temporal-setup: created search attribute $name (Keyword)"
  fi
done
