// Automation scenario (issue 4): webhook intake. A webhook rule with a signing secret creates one
// job per delivery; 8 connections call taskflow.handle_webhook(key, body, signature) with the
// signature checked on every call. Compared with `enqueue` (taskflow.schedule, 8 connections).
#include <string>

#include "context.hpp"
#include "parallel.hpp"
#include "scenarios.hpp"

namespace taskflow::bench {

Measurement WebhookIntake(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const Sizes& s = ctx.sizes();
  ctx.Exec(
      "SELECT taskflow.drop_rule(rule_id) FROM taskflow.list_rules() "
      "WHERE name = 'bench-webhook'");
  const std::string rule = ctx.QueryText(
      "SELECT taskflow.create_rule('bench-webhook', '{\"type\": \"webhook\"}', "
      "'[{\"job_type\": \"bench\", \"queue\": \"bench\", \"payload\": {\"order\": \"{{ $.event.body.order }}\"}}]')");
  const std::string key =
      ctx.QueryText("SELECT key FROM taskflow.webhook_credentials(" + rule + ")");
  const std::string body = "{\"order\": 42}";
  // The signature a sender computes: sha256=<hex HMAC-SHA256 of the raw body with the secret>.
  ctx.Exec("CREATE EXTENSION IF NOT EXISTS pgcrypto");
  const std::string signature =
      ctx.QueryText("SELECT 'sha256=' || encode(hmac(convert_to('" + body +
                    "', 'UTF8'), convert_to(secret, "
                    "'UTF8'), 'sha256'), 'hex') FROM taskflow.webhook_credentials(" +
                    rule + ")");
  ParallelRun run;
  run.connections = s.enqueue_connections;
  run.units = s.enqueue_jobs;
  run.prepare = [](pqxx::connection& c) {
    c.prepare("webhook", "SELECT count(*) FROM taskflow.handle_webhook($1, $2, $3)");
  };
  run.body = ExecPreparedPerUnit("webhook", key, body, signature);
  Measurement m;
  m.seconds = RunParallel(ctx.db(), run);
  m.jobs = s.enqueue_jobs;
  Expect("PENDING jobs after webhook intake", s.enqueue_jobs, ctx.CountJobs("PENDING"));
  ctx.Exec("SELECT taskflow.drop_rule(" + rule + ")");
  return m;
}

}  // namespace taskflow::bench
