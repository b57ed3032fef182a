#include "config.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "duration.hpp"
#include "executors.hpp"

namespace taskflow {
namespace {

const std::set<std::string> kExecutors = {"noop", "sleep", "command", "http", "sql"};

std::vector<std::string> SplitSpaces(const std::string& text) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  std::string part;
  while (in >> part) parts.push_back(part);
  return parts;
}

std::map<std::string, std::string> StringMap(const nlohmann::json& value,
                                             const std::string& where) {
  if (!value.is_object()) throw ConfigError(where + " must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) throw ConfigError(where + "." + key + " must be a string");
    out[key] = item.get<std::string>();
  }
  return out;
}

std::chrono::milliseconds DurationValue(const nlohmann::json& value, const std::string& where) {
  try {
    if (value.is_number()) return ParseDuration(std::to_string(value.get<double>()));
    if (value.is_string()) return ParseDuration(value.get<std::string>());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(where + ": " + e.what());
  }
  throw ConfigError(where + " must be a duration like \"30s\" or a number of seconds");
}

std::vector<std::string> CommandValue(const nlohmann::json& value, const std::string& at) {
  if (value.is_string()) return SplitSpaces(value.get<std::string>());
  if (!value.is_array()) throw ConfigError(at + " must be an array of strings (argv, no shell)");
  std::vector<std::string> argv;
  for (const auto& arg : value) {
    if (!arg.is_string()) throw ConfigError(at + " must be an array of strings");
    argv.push_back(arg.get<std::string>());
  }
  return argv;
}

std::set<int> ExitCodesValue(const nlohmann::json& value, const std::string& at) {
  if (!value.is_array()) throw ConfigError(at + " must be an array of exit codes");
  std::set<int> codes;
  for (const auto& code : value) {
    if (!code.is_number_integer() || code.get<int>() < 1 || code.get<int>() > 255) {
      throw ConfigError(at + " must hold exit codes from 1 to 255");
    }
    codes.insert(code.get<int>());
  }
  return codes;
}

// secret, secret_env or secret_file (only one of them): the HTTP executor's signing secret.
void SetSecret(HandlerSpec& spec, const std::string& key, const nlohmann::json& value,
               const std::string& where, const std::string& at) {
  if (!value.is_string() || value.get<std::string>().empty())
    throw ConfigError(at + " must be a non-empty string");
  if (!spec.secret.empty())
    throw ConfigError(where + ": give one of secret, secret_env and secret_file");
  const std::string text = value.get<std::string>();
  if (key == "secret") {
    spec.secret = text;
  } else if (key == "secret_env") {
    const char* env = getenv(text.c_str());
    if (env == nullptr || *env == '\0')
      throw ConfigError(at + ": the environment variable " + text + " is not set");
    spec.secret = env;
  } else {
    spec.secret = ReadSecretFile(text, at);
  }
  if (spec.secret.size() < kMinHttpSecretBytes) {
    throw ConfigError(at + ": the secret must be at least " + std::to_string(kMinHttpSecretBytes) +
                      " bytes (e.g. openssl rand -hex 32)");
  }
}

// One key of a handler's body (already checked to be valid for its executor).
void SetKey(HandlerSpec& spec, const std::string& key, const nlohmann::json& value,
            const std::string& where) {
  const std::string at = where + "." + key;
  if (key == "command") {
    spec.command = CommandValue(value, at);
  } else if (key == "env") {
    spec.env = StringMap(value, at);
  } else if (key == "headers") {
    spec.headers = StringMap(value, at);
  } else if (key == "body") {
    if (!value.is_string() || (value != "payload" && value != "envelope")) {
      throw ConfigError(at + " must be \"payload\" or \"envelope\"");
    }
    spec.envelope = value == "envelope";
  } else if (key == "cwd" || key == "url" || key == "statement") {
    if (!value.is_string()) throw ConfigError(at + " must be a string");
    (key == "cwd" ? spec.cwd : key == "url" ? spec.url : spec.statement) = value.get<std::string>();
  } else if (key == "permanent_exit_codes") {
    spec.permanent_exit_codes = ExitCodesValue(value, at);
  } else if (key == "timeout") {
    spec.timeout = DurationValue(value, at);
    if (spec.timeout->count() <= 0) throw ConfigError(at + " must be greater than zero");
  } else if (key == "kill_grace") {
    spec.kill_grace = DurationValue(value, at);
  } else if (key == "max_snooze") {
    spec.max_snooze = DurationValue(value, at);
    if (spec.max_snooze.count() < 1000) throw ConfigError(at + " must be at least 1s");
  } else if (key == "secret" || key == "secret_env" || key == "secret_file") {
    SetSecret(spec, key, value, where, at);
  }
}

HandlerSpec ParseOne(const std::string& job_type, const nlohmann::json& body) {
  const std::string where = "handlers." + job_type;
  if (!body.is_object()) throw ConfigError(where + " must be an object with an \"executor\"");
  HandlerSpec spec;
  spec.job_type = job_type;
  if (!body.contains("executor") || !body["executor"].is_string()) {
    throw ConfigError(where + ".executor is required (one of noop, sleep, command, http, sql)");
  }
  spec.executor = body["executor"].get<std::string>();
  if (!kExecutors.count(spec.executor)) {
    throw ConfigError(where + ".executor '" + spec.executor +
                      "' is unknown (noop, sleep, command, http, sql)");
  }
  static const std::map<std::string, std::set<std::string>> allowed = {
      {"noop", {}},
      {"sleep", {"timeout"}},
      {"command", {"command", "env", "cwd", "permanent_exit_codes", "kill_grace", "timeout"}},
      {"http",
       {"url", "headers", "timeout", "secret", "secret_env", "secret_file", "max_snooze", "body"}},
      {"sql", {"statement", "timeout"}},
  };
  for (const auto& [key, value] : body.items()) {
    if (key == "executor") continue;
    if (!allowed.at(spec.executor).count(key)) {
      throw ConfigError(where + ": key '" + key + "' is not valid for the " + spec.executor +
                        " executor");
    }
    SetKey(spec, key, value, where);
  }
  return spec;
}

}  // namespace

HandlerSpec ParseHandlerFlag(const std::string& flag) {
  const std::string usage =
      "--handler '" + flag +
      "': expected JOB_TYPE=EXECUTOR[:ARGUMENT], e.g. ping=noop, "
      "resize=command:/usr/local/bin/resize, hook=http:https://example.com/hook";
  const auto eq = flag.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size()) throw ConfigError(usage);
  HandlerSpec spec;
  spec.job_type = flag.substr(0, eq);
  const std::string rest = flag.substr(eq + 1);
  const auto colon = rest.find(':');
  spec.executor = rest.substr(0, colon);
  const std::string argument = colon == std::string::npos ? "" : rest.substr(colon + 1);
  if (!kExecutors.count(spec.executor)) {
    throw ConfigError(usage + " (unknown executor '" + spec.executor + "')");
  }
  if (spec.executor == "command") {
    spec.command = SplitSpaces(argument);
    if (spec.command.empty()) throw ConfigError(usage + " (command needs a program)");
  } else if (spec.executor == "http") {
    spec.url = argument;
    if (spec.url.empty()) throw ConfigError(usage + " (http needs a URL)");
  } else if (spec.executor == "sql") {
    spec.statement = argument;
    if (spec.statement.empty()) throw ConfigError(usage + " (sql needs a statement)");
  } else if (colon != std::string::npos) {
    throw ConfigError(usage + " (" + spec.executor + " takes no argument)");
  }
  return spec;
}

std::vector<HandlerSpec> ParseHandlerConfig(const nlohmann::json& config) {
  if (!config.is_object())
    throw ConfigError("the handler config must be a JSON object with \"handlers\"");
  for (const auto& [key, value] : config.items()) {
    (void)value;
    if (key != "handlers")
      throw ConfigError("unknown top-level key '" + key + "' (only \"handlers\")");
  }
  if (!config.contains("handlers") || !config["handlers"].is_object()) {
    throw ConfigError("\"handlers\" must be an object mapping job types to executors");
  }
  std::vector<HandlerSpec> specs;
  for (const auto& [job_type, body] : config["handlers"].items())
    specs.push_back(ParseOne(job_type, body));
  return specs;
}

std::vector<HandlerSpec> LoadHandlerFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read handler config '" + path + "'");
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError("handler config '" + path + "' is not valid JSON: " + e.what());
  }
  try {
    return ParseHandlerConfig(config);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

std::string ReadSecretFile(const std::string& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(where + ": cannot read the secret file '" + path + "'");
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < kMinHttpSecretBytes) {
    throw ConfigError(where + ": the secret in '" + path + "' must be at least " +
                      std::to_string(kMinHttpSecretBytes) + " bytes (e.g. openssl rand -hex 32)");
  }
  return secret;
}

void ApplyDefaultHttpSecret(std::vector<HandlerSpec>& specs, const std::string& secret) {
  if (secret.empty()) return;
  if (secret.size() < kMinHttpSecretBytes) {
    throw ConfigError("the http secret must be at least " + std::to_string(kMinHttpSecretBytes) +
                      " bytes (e.g. openssl rand -hex 32)");
  }
  for (auto& spec : specs) {
    if (spec.executor == "http" && spec.secret.empty()) spec.secret = secret;
  }
}

void ValidateHandlerSpec(const HandlerSpec& spec) {
  const std::string where = "handler '" + spec.job_type + "'";
  if (spec.job_type.empty()) throw ConfigError("a handler needs a job type");
  if (spec.executor == "command") {
    if (spec.command.empty()) throw ConfigError(where + ": command is empty");
    const std::string& program = spec.command.front();
    if (program.find('/') != std::string::npos && access(program.c_str(), X_OK) != 0) {
      throw ConfigError(where + ": '" + program + "' is not an executable file");
    }
  } else if (spec.executor == "http") {
    ParseHttpUrl(spec.url);  // throws ConfigError
    for (const auto& [name, value] : spec.headers) {
      const bool bad_name = name.empty() || std::any_of(name.begin(), name.end(), [](char c) {
                              return static_cast<unsigned char>(c) <= 0x20 || c == ':' || c == 0x7F;
                            });
      const bool bad_value = std::any_of(
          value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
      if (bad_name || bad_value)
        throw ConfigError(where + ": header '" + name + "' is not a valid HTTP header");
    }
  } else if (spec.executor == "sql") {
    if (spec.statement.empty()) throw ConfigError(where + ": statement is empty");
  } else if (!kExecutors.count(spec.executor)) {
    throw ConfigError(where + ": unknown executor '" + spec.executor + "'");
  }
}

}  // namespace taskflow
