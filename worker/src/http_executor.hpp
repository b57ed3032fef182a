// The http executor: POSTs the payload to a handler URL over a pooled keep-alive
// connection, signs it, and turns the response into an Outcome. The contract a
// receiver relies on (headers, signature, outcome table) is in docs/worker.md,
// "The HTTP handler contract".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <taskflow/worker.hpp>

#include "config.hpp"

namespace taskflow {

struct HttpUrl {
  std::string
      scheme_host_port;  // "http://127.0.0.1:8080", what httplib::Client takes; the pool's key
  std::string path;      // "/hook?x=1", at least "/"
  bool https = false;
};

// Throws ConfigError on anything but http://host[:port][/path] or https://...
// (https only when cpp-httplib was built with OpenSSL).
HttpUrl ParseHttpUrl(const std::string& url);

// The largest response body read; the rest is not read (and the connection dropped).
inline constexpr std::size_t kMaxHttpResponseBytes = 1 << 20;
// Retry-After and {"snooze_seconds": N} are clamped to [kMinHttpSnooze, the handler's max_snooze].
inline constexpr Milliseconds kMinHttpSnooze{1000};
inline constexpr Milliseconds kDefaultHttpMaxSnooze{3600 * 1000};

// The request body: the payload as scheduled; with "body": "envelope" (spec.envelope)
// {"payload": <payload>, "dependencies": <acquire's dependencies array, null without>}.
std::string HttpRequestBody(const HandlerSpec& spec, const Job& job);

// "v1=" + lowercase hex HMAC-SHA256(secret, timestamp + "." + body): the TaskFlow-Signature header.
std::string HttpSignature(const std::string& secret, std::int64_t timestamp,
                          const std::string& body);

// A header value a tenant controls (correlation id, tenant id, ...): control characters
// (CR, LF, ...) and '%' percent-encoded so no value can end a header or start another,
// at most 1024 bytes.
std::string SafeHeaderValue(const std::string& value);

// A W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>", not all-zero ids), else false.
bool ValidTraceparent(const std::string& value);

// Retry-After: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime), as a
// delay from `now`. nullopt when absent or not parseable. Not clamped.
std::optional<Milliseconds> ParseRetryAfter(const std::string& value,
                                            std::chrono::system_clock::time_point now);

// What the handler answered, as far as the outcome depends on it.
struct HttpReply {
  int status = 0;
  std::string retry_after;      // the Retry-After header, empty when absent
  std::string body;             // at most kMaxHttpResponseBytes
  bool body_truncated = false;  // the body was longer than that
};

// The outcome table of docs/worker.md.
Outcome ClassifyHttpReply(const HttpReply& reply, Milliseconds max_snooze,
                          std::chrono::system_clock::time_point now);

// Connections opened by the http executor since the process started (all targets).
std::uint64_t HttpConnectionsOpened();

// Runs one http job: the pooled request, signed, with the job's headers.
Outcome RunHttp(const HandlerSpec& spec, const HttpUrl& url, const Job& job, JobContext& ctx);

}  // namespace taskflow
