#!/bin/sh
# Test hooks called by main.tf: "plan" (from the external data source) and
# "apply" (from the provisioner, with VERSION set).  See main.tf for the faults.
set -e
stage="$1"
for gate in "$stage" "$stage-$VERSION"; do
  if [ -e "faults/hold-$gate" ]; then
    : > "faults/holding-$gate"
    while [ -e "faults/hold-$gate" ]; do sleep 0.05; done
  fi
done
if [ "$stage" = plan ]; then
  echo '{}'
  exit 0
fi
echo "$VERSION" >> applies.log
if [ -e "faults/fail-apply-$VERSION" ]; then
  echo "deploying backend $VERSION failed (injected fault)" >&2
  exit 1
fi
printf '%s' "$VERSION" > deployed-version.tmp
mv deployed-version.tmp deployed-version
