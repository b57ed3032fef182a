#!/bin/sh
# demo.flaky: fails on its first two attempts (a retryable exit code, with the
# reason on stderr), succeeds on the third.
cat >/dev/null
if [ "$TASKFLOW_ATTEMPT" -lt 3 ]; then
  echo "upstream timed out (attempt $TASKFLOW_ATTEMPT)" >&2
  exit 75  # EX_TEMPFAIL: any non-zero code except the permanent ones is retried
fi
printf '{"delivered": true, "attempt": %s}\n' "$TASKFLOW_ATTEMPT"
