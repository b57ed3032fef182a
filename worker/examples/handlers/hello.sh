#!/bin/sh
# demo.hello: reads the payload on stdin, answers with a JSON result (stdout).
payload=$(cat)
name=$(printf '%s' "$payload" | sed -n 's/.*"name" *: *"\([^"]*\)".*/\1/p')
printf '{"greeting": "Hello, %s!", "job_id": %s}\n' "${name:-world}" "$TASKFLOW_JOB_ID"
