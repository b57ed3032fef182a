#include "worker_options.hpp"

namespace taskflow {

static_assert(WorkerOptions::kPrefetchAuto == ProducerOptions::kPrefetchAuto,
              "one value for --prefetch auto");

WorkerParts PartsOf(const WorkerOptions& o) {
  WorkerParts parts;
  parts.producer.queues = o.queues;
  parts.producer.worker_id = o.worker_id;
  parts.producer.lease = o.lease;
  parts.producer.poll_interval = o.poll_interval;
  parts.producer.acquire_batch = o.acquire_batch;
  parts.producer.prefetch = o.prefetch;
  parts.producer.prefetch_max = o.prefetch_max;
  parts.producer.prefetch_max_wait = o.prefetch_max_wait;
  parts.producer.durable_acquire = o.durable_acquire;
  parts.producer.reconnect_min = o.reconnect_min;
  parts.producer.reconnect_max = o.reconnect_max;
  parts.pool.concurrency = o.concurrency;
  parts.completer.flush_interval = o.completion_flush_interval;
  parts.completer.retry_min = o.reconnect_min;
  parts.completer.retry_max = o.reconnect_max;
  parts.heartbeater.lease = o.lease;
  parts.heartbeater.interval = o.heartbeat_interval;
  return parts;
}

void WorkerOptions::Validate() const {
  if (shutdown_grace.count() < 0)
    throw std::invalid_argument("shutdown_grace (--shutdown-grace) must not be negative");
  const WorkerParts parts = PartsOf(*this);
  parts.pool.Validate();
  parts.producer.Validate();
  parts.completer.Validate();
  parts.heartbeater.Validate();
}

}  // namespace taskflow
