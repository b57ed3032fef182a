#!/bin/sh
# demo.doomed: always fails; after the queue's max_attempts it is DEAD and shows
# up in taskflow.dead_letter.
cat >/dev/null
echo "the payment provider rejected the card (attempt $TASKFLOW_ATTEMPT)" >&2
exit 1
