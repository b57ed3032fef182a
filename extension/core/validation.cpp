#include "validation.hpp"

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {
namespace {

[[noreturn]] void Invalid(std::string message, std::string hint = {}) {
  throw DomainError(ErrorCode::InvalidParameterValue, std::move(message), std::move(hint));
}

// Code points in valid UTF-8: every byte that is not a continuation byte
// (10xxxxxx) starts one. The server has already verified the encoding.
std::size_t CodePoints(std::string_view text) noexcept {
  std::size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool IsAsciiWhitespace(unsigned char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool IsControl(unsigned char c) noexcept { return c < 0x20 || c == 0x7F; }

// Decodes the code points of valid UTF-8 (the server has verified the encoding).
std::vector<char32_t> Decode(std::string_view text) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return out;
}

// Unicode White_Space beyond ASCII (NEL, no-break spaces, the U+2000 block, separators).
bool IsUnicodeSpace(char32_t cp) noexcept {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// C1 control characters (U+0080..U+009F).
bool IsC1Control(char32_t cp) noexcept { return cp >= 0x80 && cp <= 0x9F; }

bool IsQueueNameChar(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

void CheckLength(std::string_view field, std::string_view text, std::size_t max_chars) {
  const std::size_t n = CodePoints(text);
  if (n > max_chars) {
    Invalid(std::string(field) + " is too long: " + std::to_string(n) + " characters, at most " +
            std::to_string(max_chars) + " allowed");
  }
}

}  // namespace

void ValidateErrorType(std::string_view error_type) {
  if (error_type.empty()) Invalid("error_type must not be empty");
  CheckLength("error_type", error_type, kMaxErrorTypeChars);
}

void ValidateJobType(std::string_view job_type) {
  if (job_type.empty()) Invalid("job_type must not be empty");
  CheckLength("job_type", job_type, kMaxJobTypeChars);
  // Whitespace first: tab and newline are control characters too, but
  // "whitespace" is the more helpful word for them.
  for (unsigned char c : job_type) {
    if (IsAsciiWhitespace(c)) {
      Invalid("job_type must not contain whitespace",
              "Use a name like \"email.send\" or \"report_daily\".");
    }
  }
  for (unsigned char c : job_type) {
    if (IsControl(c)) Invalid("job_type must not contain control characters");
  }
  for (char32_t cp : Decode(job_type)) {
    if (IsUnicodeSpace(cp)) {
      Invalid("job_type must not contain whitespace",
              "Use a name like \"email.send\" or \"report_daily\".");
    }
    if (IsC1Control(cp)) Invalid("job_type must not contain control characters");
  }
}

void ValidateQueueName(std::string_view queue) {
  if (queue.empty()) Invalid("queue name must not be empty");
  // Charset before length: once every byte is ASCII, bytes == characters.
  for (unsigned char c : queue) {
    if (!IsQueueNameChar(c)) {
      // The name is not echoed: the bad byte may be a control character or
      // part of a multibyte sequence.
      Invalid("queue name contains a character that is not allowed",
              "Use only letters A-Z a-z, digits, '_', '.', ':' and '-'.");
    }
  }
  CheckLength("queue name", queue, kMaxQueueNameChars);
}

void ValidateTenantId(std::string_view tenant_id) {
  if (tenant_id.empty()) Invalid("tenant_id must not be empty");
  CheckLength("tenant_id", tenant_id, kMaxTenantIdChars);
  for (unsigned char c : tenant_id) {
    if (IsControl(c)) Invalid("tenant_id must not contain control characters");
  }
}

void ValidateTraceparent(std::string_view tp) {
  const char* hint =
      "Send a W3C traceparent of version 00: "
      "00-<32 lowercase hex trace-id>-<16 lowercase hex parent-id>-<2 hex flags>, "
      "e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.";
  if (tp.size() != kTraceparentChars) {
    Invalid("traceparent must be 55 characters long, got " + std::to_string(tp.size()), hint);
  }
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  // version(0-1) '-' trace-id(3-34) '-' parent-id(36-51) '-' flags(53-54)
  for (std::size_t i = 0; i < tp.size(); ++i) {
    bool dash = i == 2 || i == 35 || i == 52;
    if (dash ? tp[i] != '-' : !hex(tp[i])) {
      Invalid("traceparent is malformed at character " + std::to_string(i + 1), hint);
    }
  }
  if (tp.substr(0, 2) != "00") {
    Invalid("traceparent version " + std::string(tp.substr(0, 2)) + " is not supported", hint);
  }
  if (tp.substr(3, 32).find_first_not_of('0') == std::string_view::npos) {
    Invalid("traceparent trace-id must not be all zeros", hint);
  }
  if (tp.substr(36, 16).find_first_not_of('0') == std::string_view::npos) {
    Invalid("traceparent parent-id must not be all zeros", hint);
  }
}

void ValidateMaxAttempts(int max_attempts) {
  if (max_attempts < 1) {
    Invalid("max_attempts must be at least 1, got " + std::to_string(max_attempts));
  }
}

void ValidateMaxRows(int max_rows) {
  if (max_rows < 1 || max_rows > kMaxRowsLimit) {
    Invalid("max_rows must be between 1 and " + std::to_string(kMaxRowsLimit) + ", got " +
                std::to_string(max_rows),
            "Page through larger results with after_id.");
  }
}

void ValidatePriority(long long priority, std::string_view field) {
  if (priority < kMinPriority || priority > kMaxPriority) {
    Invalid(std::string(field) + " must be between " + std::to_string(kMinPriority) + " and " +
                std::to_string(kMaxPriority) + ", got " + std::to_string(priority),
            "Higher runs first; 0 is the default.");
  }
}

void ValidateTimestamp(std::int64_t micros, std::string_view field) {
  if (micros == std::numeric_limits<std::int64_t>::min() ||
      micros == std::numeric_limits<std::int64_t>::max()) {
    Invalid(std::string(field) + " must be a finite timestamp, got " +
                (micros < 0 ? "-infinity" : "infinity"),
            "Pass NULL (or leave it out) to run the job as soon as possible.");
  }
}

void ValidateDuration(std::int64_t micros, std::string_view field, bool allow_zero) {
  if (micros < 0 || (micros == 0 && !allow_zero)) {
    Invalid(std::string(field) +
            (allow_zero ? " must not be negative" : " must be greater than zero"));
  }
  if (micros > kMaxDurationUs) {
    Invalid(std::string(field) + " is too long: at most 100 years (36525 days) allowed");
  }
}

int JsonTextDepth(std::string_view json, int stop_above) noexcept {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > stop_above) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

void ValidateJsonDepth(int depth, std::string_view what) {
  if (depth > kMaxJsonDepth) {
    Invalid(std::string(what) + " nests too deep: more than " + std::to_string(kMaxJsonDepth) +
                " levels of arrays and objects",
            "Flatten the structure, or store deep data elsewhere and pass a reference.");
  }
}

std::int64_t IntervalMicros(std::int32_t months, std::int32_t days, std::int64_t micros) noexcept {
  constexpr std::int64_t kDayUs = 86400LL * 1000000LL;
  // months * 30 + days fits easily in int64; times kDayUs, plus micros, may not.
  const std::int64_t total_days = static_cast<std::int64_t>(months) * 30 + days;
  std::int64_t day_us = 0;
  std::int64_t out = 0;
  if (__builtin_mul_overflow(total_days, kDayUs, &day_us) ||
      __builtin_add_overflow(day_us, micros, &out)) {
    const bool negative = total_days < 0 || (total_days == 0 && micros < 0);
    return negative ? std::numeric_limits<std::int64_t>::min() + 1
                    : std::numeric_limits<std::int64_t>::max();
  }
  return out;
}

}  // namespace taskflow::core
