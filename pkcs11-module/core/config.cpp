#include "core/config.h"

#include <boost/json.hpp>
#include <cstdlib>

#include "core/error.h"
#include "core/files.h"

namespace brokerkey {

namespace json = boost::json;

std::string_view to_string(ConfigMode mode) { return mode == ConfigMode::client ? "client" : "embedded"; }

const ConsumerEntry* Config::find_consumer(std::string_view name) const {
  for (const auto& consumer : consumers) {
    if (consumer.name == name) return &consumer;
  }
  return nullptr;
}

namespace {

std::vector<fs::path> default_config_places() {
  std::vector<fs::path> places;
  if (const char* home = std::getenv("HOME"); home && *home) {
    places.push_back(fs::path(home) / ".config/brokerkey/brokerkey.conf");
  }
  places.emplace_back("/etc/brokerkey/brokerkey.conf");
  return places;
}

}  // namespace

std::optional<fs::path> find_config() {
  if (const char* env = std::getenv("BROKERKEY_CONF"); env && *env) return fs::path(env);
  for (const fs::path& place : default_config_places()) {
    // A place that cannot be checked (EACCES on a directory) is returned too, so loading it
    // names the problem instead of falling through to another configuration.
    std::error_code ec;
    if (fs::exists(place, ec) || ec) return place;
  }
  return std::nullopt;
}

fs::path locate_config() {
  if (auto found = find_config()) return *found;
  std::string places = "$BROKERKEY_CONF";
  for (const auto& path : default_config_places()) places += ", " + path.string();
  throw config_bad("no brokerkey configuration found (looked at " + places +
                   "); run 'brokerkey init --dir DIR' and export BROKERKEY_CONF");
}

namespace {

// Reads fields out of one JSON object, naming the file and the field in every error, and
// refusing fields it does not know so that a typo is not silently ignored.
class Reader {
 public:
  Reader(const json::value& value, std::string where) : where_(std::move(where)) {
    if (!value.is_object()) fail("must be a JSON object");
    object_ = &value.as_object();
  }
  ~Reader() = default;

  void finish(std::initializer_list<std::string_view> known) const {
    for (const auto& field : *object_) {
      bool found = false;
      for (auto name : known) found = found || field.key() == name;
      if (!found) fail("has an unknown field '" + std::string(field.key()) + "'");
    }
  }

  const json::value* find(std::string_view key) const { return object_->if_contains(key); }

  std::string string(std::string_view key, std::optional<std::string> fallback = {}) const {
    const json::value* value = find(key);
    if (!value) {
      if (fallback) return *fallback;
      fail("lacks the field '" + std::string(key) + "'");
    }
    if (!value->is_string() || value->as_string().empty()) {
      fail("field '" + std::string(key) + "' must be a non-empty string");
    }
    return std::string(value->as_string());
  }

  int integer(std::string_view key, int fallback, int low, int high) const {
    const json::value* value = find(key);
    if (!value) return fallback;
    if (!value->is_int64() || value->as_int64() < low || value->as_int64() > high) {
      fail("field '" + std::string(key) + "' must be an integer from " + std::to_string(low) +
           " to " + std::to_string(high));
    }
    return static_cast<int>(value->as_int64());
  }

  Reader object(std::string_view key) const {
    const json::value* value = find(key);
    if (!value) fail("lacks the field '" + std::string(key) + "'");
    return Reader(*value, where_ + "." + std::string(key));
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw config_bad(where_ + " " + problem);
  }

 private:
  std::string where_;
  const json::object* object_ = nullptr;
};

fs::path resolve(const fs::path& base, const std::string& value) {
  fs::path path(value);
  return path.is_absolute() ? path : base / path;
}

}  // namespace

Config parse_config(std::string_view text, const fs::path& file) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) throw config_bad(file.string() + ": not valid JSON: " + ec.message());
  fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");

  Config config;
  config.file = file;
  Reader top(root, file.string() + ":");
  top.finish({"version", "mode", "token_label", "backend", "ledger", "signing_log", "naming", "rotation",
              "consumers", "agent"});
  top.integer("version", 1, 1, 1);  // the only format so far
  std::string mode = top.string("mode", std::string("embedded"));
  if (mode != "embedded" && mode != "client") top.fail("field 'mode' must be \"embedded\" or \"client\"");
  config.mode = mode == "client" ? ConfigMode::client : ConfigMode::embedded;
  bool client = config.mode == ConfigMode::client;
  config.token_label = top.string("token_label", std::string("brokerkey"));
  try {
    check_token_label(config.token_label);
  } catch (const Error& e) {
    top.fail(std::string("field 'token_label': ") + e.what());
  }

  if (!client || top.find("backend")) {
    Reader backend = top.object("backend");
    backend.finish({"module", "token_label", "pin_file", "env"});
    config.backend.module = resolve(base, backend.string("module"));
    config.backend.token_label = backend.string("token_label");
    config.backend.pin_file = resolve(base, backend.string("pin_file"));
    if (const json::value* env = backend.find("env")) {
      Reader env_reader(*env, file.string() + ": backend.env");
      for (const auto& entry : env->as_object()) {
        config.backend.env[std::string(entry.key())] = env_reader.string(entry.key());
      }
    }
  }

  if (!client || top.find("ledger")) config.ledger = resolve(base, top.string("ledger"));
  // Without a signing_log field signatures are not logged (for benchmarks; init always sets it).
  if (top.find("signing_log")) config.signing_log = resolve(base, top.string("signing_log"));

  if (top.find("naming")) {
    Reader naming = top.object("naming");
    naming.finish({"service", "purpose", "env"});
    config.naming = {naming.string("service", std::string()), naming.string("purpose", std::string()),
                     naming.string("env", std::string())};
  }
  if (top.find("rotation")) {
    Reader rotation = top.object("rotation");
    rotation.finish({"period_days", "overlap_days"});
    config.rotation.period_days = rotation.integer("period_days", 365, 1, 3650);
    config.rotation.overlap_days = rotation.integer("overlap_days", 30, 0, 3650);
  }
  if (top.find("agent")) {
    Reader agent = top.object("agent");
    agent.finish({"socket", "socket_group"});
    if (agent.find("socket")) config.agent.socket = resolve(base, agent.string("socket"));
    config.agent.socket_group = agent.string("socket_group", std::string());
  }
  if (client && config.agent.socket.empty()) top.fail("is a client configuration (mode \"client\") without agent.socket");
  if (const json::value* consumers = top.find("consumers")) {
    if (!consumers->is_array()) top.fail("field 'consumers' must be an array");
    for (const auto& item : consumers->as_array()) {
      Reader consumer(item, file.string() + ": consumers[]");
      consumer.finish({"name", "salt", "hash", "scrypt_log2_n", "scrypt_r", "scrypt_p"});
      ConsumerEntry entry;
      entry.name = consumer.string("name");
      entry.salt = consumer.string("salt");
      entry.hash = consumer.string("hash");
      entry.scrypt.log2_n = static_cast<unsigned>(consumer.integer("scrypt_log2_n", ScryptParams{}.log2_n, 10, 22));
      entry.scrypt.r = static_cast<unsigned>(consumer.integer("scrypt_r", 8, 1, 32));
      entry.scrypt.p = static_cast<unsigned>(consumer.integer("scrypt_p", 1, 1, 16));
      if (config.find_consumer(entry.name)) top.fail("names consumer '" + entry.name + "' twice");
      config.consumers.push_back(std::move(entry));
    }
  }
  return config;
}

Config load_config(const fs::path& file) {
  std::string text;
  try {
    text = open_trusted(file).read();  // checked and read through one descriptor
  } catch (const Error& e) {
    throw config_bad(std::string("cannot read configuration: ") + e.what());
  }
  return parse_config(text, file);
}

std::string serialize_config(const Config& config) {
  json::object backend{{"module", config.backend.module.string()},
                       {"token_label", config.backend.token_label},
                       {"pin_file", config.backend.pin_file.string()}};
  if (!config.backend.env.empty()) {
    json::object env;
    for (const auto& [key, value] : config.backend.env) env[key] = value;
    backend["env"] = std::move(env);
  }
  json::array consumers;
  for (const auto& consumer : config.consumers) {
    consumers.push_back(json::object{{"name", consumer.name},
                                     {"salt", consumer.salt},
                                     {"hash", consumer.hash},
                                     {"scrypt_log2_n", consumer.scrypt.log2_n},
                                     {"scrypt_r", consumer.scrypt.r},
                                     {"scrypt_p", consumer.scrypt.p}});
  }
  // An unset naming part is left out: parse_config refuses an empty one.
  json::object naming;
  if (!config.naming.service.empty()) naming["service"] = config.naming.service;
  if (!config.naming.purpose.empty()) naming["purpose"] = config.naming.purpose;
  if (!config.naming.env.empty()) naming["env"] = config.naming.env;
  json::object root{
      {"version", 1},
      {"mode", to_string(config.mode)},
      {"token_label", config.token_label},
      {"naming", std::move(naming)},
      {"rotation", json::object{{"period_days", config.rotation.period_days},
                                {"overlap_days", config.rotation.overlap_days}}},
      {"consumers", std::move(consumers)},
  };
  // A client configuration may have neither.
  if (!config.backend.module.empty()) root["backend"] = std::move(backend);
  if (!config.ledger.empty()) root["ledger"] = config.ledger.string();
  if (!config.signing_log.empty()) root["signing_log"] = config.signing_log.string();
  json::object agent;
  if (!config.agent.socket.empty()) agent["socket"] = config.agent.socket.string();
  if (!config.agent.socket_group.empty()) agent["socket_group"] = config.agent.socket_group;
  if (!agent.empty()) root["agent"] = std::move(agent);
  return json::serialize(root) + "\n";
}

std::string client_config_text(const fs::path& socket, std::string_view token_label) {
  json::object root{{"version", 1},
                    {"mode", "client"},
                    {"token_label", token_label},
                    {"agent", json::object{{"socket", socket.string()}}}};
  return json::serialize(root) + "\n";
}

void save_config(const Config& config) {
  replace_file(config.file, serialize_config(config), fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace brokerkey
