// WorkerOptions (the public, flat options of taskflow/worker.hpp) split into the options of
// each part. The parts' Validate() hold the rules; WorkerOptions::Validate() runs them all, and
// both Worker::Run() and taskflow-worker's flag parsing call it (one place for the rules).
#pragma once

#include <taskflow/worker.hpp>

#include "completer.hpp"
#include "executor_pool.hpp"
#include "heartbeater.hpp"
#include "producer.hpp"

namespace taskflow {

struct WorkerParts {
  ProducerOptions producer;
  ExecutorPoolOptions pool;
  CompleterOptions completer;
  HeartbeaterOptions heartbeater;
};

WorkerParts PartsOf(const WorkerOptions& options);

}  // namespace taskflow
