#include "http_executor.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <strings.h>
#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "executors.hpp"
#include "process.hpp"

namespace taskflow {
namespace {

using Clock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

constexpr size_t kErrorTail = 2048;
constexpr size_t kMaxHeaderValueBytes = 1024;
// An http handler without any timeout still must not hang forever.
constexpr Milliseconds kDefaultHttpTimeout{30000};
constexpr Milliseconds kMaxConnectTimeout{10000};
// An idle connection is closed after this long, below Node's default keepAliveTimeout (5 s),
// so the worker does not send on a connection the server is closing at that moment.
constexpr Milliseconds kMaxIdle{4000};
// Idle connections kept per target; more are closed when returned.
constexpr size_t kMaxIdlePerTarget = 64;
// A request that failed on a reused connection before any response byte, this soon, is sent
// once more on a new connection (the server closed the idle connection as we wrote to it).
constexpr Milliseconds kStaleRetryWindow{1000};
constexpr const char* kUserAgent = "taskflow-worker";

std::atomic<std::uint64_t> connections_opened{0};

// One keep-alive connection (an httplib::Client holds at most one socket), used by one
// request at a time: taken from the pool, used, given back.
struct PooledClient {
  explicit PooledClient(const HttpUrl& url) : client(url.scheme_host_port) {
    auto socket = fd;
    client.set_socket_options([socket](int sock) {
      socket->store(sock);
      const int one = 1;
      setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      connections_opened.fetch_add(1);
    });
    client.set_keep_alive(true);
    client.set_follow_location(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (url.https) {
      client.enable_server_certificate_verification(true);
      if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
        client.set_ca_cert_path("/etc/ssl/certs/ca-certificates.crt");
      }
    }
#endif
  }

  // An open socket the server has not closed (no FIN, no stray bytes waiting).
  bool Reusable() const {
    if (client.is_socket_open() == 0) return false;
    pollfd p{fd->load(), POLLIN, 0};
    return p.fd >= 0 && poll(&p, 1, 0) == 0;
  }

  httplib::Client client;
  std::shared_ptr<std::atomic<int>> fd = std::make_shared<std::atomic<int>>(-1);
  Clock::time_point idle_since{};
  int requests = 0;
};

// Idle connections per target (scheme://host:port), most recently used last.
class ClientPool {
 public:
  static ClientPool& Shared() {
    static ClientPool* pool =
        new ClientPool();  // never destroyed: detached handler threads may use it at exit
    return *pool;
  }

  std::unique_ptr<PooledClient> Take(const HttpUrl& url) {
    std::vector<std::unique_ptr<PooledClient>> stale;  // closed outside the lock
    std::unique_ptr<PooledClient> found;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& idle = idle_[url.scheme_host_port];
      const auto now = Clock::now();
      while (!idle.empty() && !found) {
        auto candidate = std::move(idle.back());
        idle.pop_back();
        if (now - candidate->idle_since < kMaxIdle && candidate->Reusable()) {
          found = std::move(candidate);
        } else {
          stale.push_back(std::move(candidate));
        }
      }
    }
    return found ? std::move(found) : std::make_unique<PooledClient>(url);
  }

  void Give(const HttpUrl& url, std::unique_ptr<PooledClient> client) {
    client->idle_since = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    auto& idle = idle_[url.scheme_host_port];
    if (idle.size() >= kMaxIdlePerTarget) return;  // closed as it goes out of scope
    idle.push_back(std::move(client));
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::deque<std::unique_ptr<PooledClient>>> idle_;
};

std::string Hex(const unsigned char* data, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xF]);
  }
  return out;
}

bool IsHex(const std::string& text, size_t from, size_t count) {
  for (size_t i = from; i < from + count; ++i) {
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(const std::string& text, size_t from, size_t count) {
  return text.compare(from, count, std::string(count, '0')) == 0;
}

std::optional<Milliseconds> ParseHttpDate(const std::string& value, SystemClock::time_point now) {
  // RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms, always GMT.
  static const char* formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                  "%a %b %e %H:%M:%S %Y"};
  for (const char* format : formats) {
    tm parts{};
    const char* end = strptime(value.c_str(), format, &parts);
    if (end == nullptr || *end != '\0') continue;
    const time_t at = timegm(&parts);
    if (at == static_cast<time_t>(-1)) continue;
    // In seconds: a date centuries away would overflow the clock's nanoseconds.
    const long long now_ms =
        std::chrono::duration_cast<Milliseconds>(now.time_since_epoch()).count();
    const long long delay_s = static_cast<long long>(at) - now_ms / 1000;
    const long long year_s = 86400LL * 365;
    return Milliseconds(std::clamp(delay_s, -year_s, year_s) * 1000 - now_ms % 1000);
  }
  return std::nullopt;
}

std::string Describe(const HttpUrl& url) { return "POST " + url.scheme_host_port + url.path; }

}  // namespace

HttpUrl ParseHttpUrl(const std::string& url) {
  HttpUrl out;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    out.https = true;
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
    throw ConfigError(
        "'" + url +
        "': this taskflow-worker was built with a cpp-httplib without OpenSSL, so it cannot call https URLs");
#endif
  } else {
    throw ConfigError("'" + url + "' is not an http:// or https:// URL");
  }
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F)
      throw ConfigError("'" + url + "' contains a space or control character");
  }
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  if (authority.empty()) throw ConfigError("'" + url + "' has no host");
  out.scheme_host_port = (out.https ? "https://" : "http://") + authority;
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  return out;
}

std::string HttpSignature(const std::string& secret, std::int64_t timestamp,
                          const std::string& body) {
  const std::string signed_text = std::to_string(timestamp) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
           &size) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return "v1=" + Hex(mac, size);
}

std::string SafeHeaderValue(const std::string& value) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(std::min(value.size(), kMaxHeaderValueBytes));
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    const bool escape = (c < 0x20 && c != '\t') || c == 0x7F || c == '%';
    const size_t need = escape ? 3 : 1;
    if (out.size() + need > kMaxHeaderValueBytes) break;
    if (escape) {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
  // A cut inside a multi-byte UTF-8 character would leave half of it.
  if (out.size() < value.size()) {
    size_t keep = out.size();
    while (keep > 0 && (static_cast<unsigned char>(out[keep - 1]) & 0xC0) == 0x80) --keep;
    if (keep > 0 && (static_cast<unsigned char>(out[keep - 1]) & 0xC0) == 0xC0)
      out.resize(keep - 1);
  }
  return out;
}

bool ValidTraceparent(const std::string& value) {
  // version "-" trace-id "-" parent-id "-" trace-flags; version ff is invalid.
  if (value.size() != 55 || value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
  if (!IsHex(value, 0, 2) || !IsHex(value, 3, 32) || !IsHex(value, 36, 16) || !IsHex(value, 53, 2))
    return false;
  if (value.compare(0, 2, "ff") == 0) return false;
  return !AllZero(value, 3, 32) && !AllZero(value, 36, 16);
}

std::optional<Milliseconds> ParseRetryAfter(const std::string& raw, SystemClock::time_point now) {
  std::string value = raw;
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // delta-seconds; anything past a day is as good as "very long" (clamped later), and
    // stopping there keeps the arithmetic far from overflow.
    long long seconds = 0;
    for (const char c : value) {
      seconds = seconds * 10 + (c - '0');
      if (seconds > 86400LL * 365) break;
    }
    return Milliseconds(seconds * 1000);
  }
  return ParseHttpDate(value, now);
}

Outcome ClassifyHttpReply(const HttpReply& reply, Milliseconds max_snooze,
                          SystemClock::time_point now) {
  const int status = reply.status;
  if (status >= 200 && status < 300) {
    // A body over the bound is not kept (a cut JSON text would not parse anyway).
    return Outcome::Succeeded(reply.body_truncated ? nlohmann::json(nullptr)
                                                   : JsonOrNull(reply.body));
  }
  if (status == 429 || status == 503) {
    std::optional<Milliseconds> delay = ParseRetryAfter(reply.retry_after, now);
    std::string source = "Retry-After: " + SafeHeaderValue(reply.retry_after);
    if (!delay && !reply.body_truncated) {
      const nlohmann::json body = JsonOrNull(reply.body);
      if (body.is_object() && body.contains("snooze_seconds") &&
          body["snooze_seconds"].is_number()) {
        const double seconds = body["snooze_seconds"].get<double>();
        if (std::isfinite(seconds) && seconds >= 0) {
          delay = Milliseconds(static_cast<long long>(std::min(seconds, 86400.0 * 365) * 1000));
          source = "snooze_seconds: " + body["snooze_seconds"].dump();
        }
      }
    }
    if (delay) {
      const Milliseconds clamped =
          std::clamp(*delay, kMinHttpSnooze, std::max(kMinHttpSnooze, max_snooze));
      return Outcome::Snoozed(clamped, "HTTP " + std::to_string(status) + ", " + source +
                                           " (snoozed " + std::to_string(clamped.count()) + " ms)");
    }
  }
  // 408 Request Timeout, 409 Conflict, 425 Too Early, 429 Too Many Requests: the same request
  // may well succeed later. Other 3xx/4xx: it will not.
  const bool retryable =
      status == 408 || status == 409 || status == 425 || status == 429 || status >= 500;
  return Outcome::Failed(
      "http_" + std::to_string(status),
      WithTail("HTTP " + std::to_string(status), Utf8Tail(reply.body, kErrorTail)), retryable);
}

std::uint64_t HttpConnectionsOpened() { return connections_opened.load(); }

std::string HttpRequestBody(const HandlerSpec& spec, const Job& job) {
  if (!spec.envelope) return job.payload.dump();
  nlohmann::json body = nlohmann::json::object();
  body["payload"] = job.payload;
  body["dependencies"] = job.dependencies;
  return body.dump();
}

namespace {

// The POST of a job to its handler: the payload, the TaskFlow-* headers, the job's traceparent
// (unless configured), the signature (with a secret), then the configured headers.
httplib::Request BuildRequest(const HandlerSpec& spec, const HttpUrl& url, const Job& job) {
  httplib::Request request;
  request.method = "POST";
  request.path = url.path;
  request.body = HttpRequestBody(spec, job);
  const std::string id = std::to_string(job.id);
  const std::string attempt = std::to_string(job.attempt);
  request.headers = {
      {"Content-Type", "application/json"},
      {"User-Agent", kUserAgent},
      {"TaskFlow-Job-Id", id},
      {"TaskFlow-Attempt", attempt},
      {"TaskFlow-Job-Type", SafeHeaderValue(job.type)},
      {"TaskFlow-Queue", SafeHeaderValue(job.queue)},
      {"TaskFlow-Tenant-Id", SafeHeaderValue(job.tenant_id)},
      {"TaskFlow-Lease-Token", SafeHeaderValue(job.lease_token)},
      {"Idempotency-Key", id + ":" + attempt},
  };
  if (!job.correlation_id.empty())
    request.headers.emplace("TaskFlow-Correlation-Id", SafeHeaderValue(job.correlation_id));
  // A `traceparent` among the configured headers replaces the job's (never sent twice).
  const bool configured_traceparent =
      std::any_of(spec.headers.begin(), spec.headers.end(),
                  [](const auto& kv) { return strcasecmp(kv.first.c_str(), "traceparent") == 0; });
  if (!configured_traceparent && ValidTraceparent(job.traceparent)) {
    request.headers.emplace("traceparent", job.traceparent);
  }
  if (!spec.secret.empty()) {
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(SystemClock::now().time_since_epoch())
            .count();
    request.headers.emplace("TaskFlow-Timestamp", std::to_string(now));
    request.headers.emplace("TaskFlow-Signature", HttpSignature(spec.secret, now, request.body));
  }
  for (const auto& [name, value] : spec.headers) request.headers.emplace(name, value);

  return request;
}

// A request that got no usable reply: a timeout (past the deadline, or a read, write or connect
// error at the timeout), else a connection error.
Outcome TransportFailure(const HttpUrl& url, httplib::Error error, bool past_deadline,
                         Clock::time_point start, Milliseconds timeout) {
  const auto elapsed = std::chrono::duration_cast<Milliseconds>(Clock::now() - start);
  const bool timed_out =
      past_deadline || ((error == httplib::Error::Read || error == httplib::Error::Write ||
                         error == httplib::Error::ConnectionTimeout) &&
                        elapsed + Milliseconds(50) >= timeout);
  if (timed_out) {
    return Outcome::Failed(
        "timeout", Describe(url) + " timed out after " + std::to_string(timeout.count()) + " ms");
  }
  return Outcome::Failed("connection_error", Describe(url) + ": " + httplib::to_string(error));
}

}  // namespace

Outcome RunHttp(const HandlerSpec& spec, const HttpUrl& url, const Job& job, JobContext& ctx) {
  const Milliseconds timeout = EffectiveTimeout(job, spec).value_or(kDefaultHttpTimeout);
  const auto start = Clock::now();
  const auto deadline = start + timeout;

  httplib::Request request = BuildRequest(spec, url, job);
  HttpReply reply;
  bool got_status = false;
  bool past_deadline = false;
  request.response_handler = [&](const httplib::Response& response) {
    got_status = true;
    reply.status = response.status;
    reply.retry_after = response.get_header_value("Retry-After");
    return true;
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (Clock::now() > deadline) {
      past_deadline = true;
      return false;
    }
    const size_t room = kMaxHttpResponseBytes - reply.body.size();
    reply.body.append(data, std::min(size, room));
    if (size > room) {
      reply.body_truncated = true;  // stop reading; the connection is dropped
      return false;
    }
    return true;
  };

  ClientPool& pool = ClientPool::Shared();
  httplib::Error error = httplib::Error::Success;
  for (int tries = 0;; ++tries) {
    auto pooled = pool.Take(url);
    const bool reused = pooled->requests > 0;
    const Milliseconds left = std::max(
        Milliseconds(1), std::chrono::duration_cast<Milliseconds>(deadline - Clock::now()));
    auto& client = pooled->client;
    client.set_connection_timeout(std::min(left, kMaxConnectTimeout));
    client.set_read_timeout(left);
    client.set_write_timeout(left);

    got_status = false;
    reply = HttpReply{};
    httplib::Response response;
    error = httplib::Error::Success;
    const auto sent_at = Clock::now();
    ctx.OnStop([&client] { client.stop(); });
    const bool ok = !ctx.StopRequested() && client.send(request, response, error);
    ctx.ClearOnStop();
    ++pooled->requests;
    if (ok) {
      // Whatever the status, a fully read response leaves the connection reusable, unless the
      // server said "Connection: close" (then httplib has closed it).
      if (!reply.body_truncated && !past_deadline) pool.Give(url, std::move(pooled));
      reply.status = response.status;
      break;
    }
    if (ctx.StopRequested())
      return Outcome::Cancelled(Describe(url) + " aborted: " + ToString(ctx.Reason()));
    if (reply.body_truncated && got_status) break;  // we stopped reading: the status is known
    const bool stale = reused && !got_status && tries == 0 &&
                       (error == httplib::Error::Read || error == httplib::Error::Write) &&
                       Clock::now() - sent_at < kStaleRetryWindow && Clock::now() < deadline;
    if (!stale) break;
  }

  if (error == httplib::Error::Success || (reply.body_truncated && got_status)) {
    return ClassifyHttpReply(reply, spec.max_snooze, SystemClock::now());
  }
  return TransportFailure(url, error, past_deadline, start, timeout);
}

}  // namespace taskflow
