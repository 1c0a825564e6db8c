#include "service.h"

#include <boost/json.hpp>

#include "core/consumer_pin.h"
#include "core/error.h"
#include "log.h"

namespace brokerkey::agent {

namespace json = boost::json;

namespace {

std::string who(const Peer& peer) {
  return "uid " + std::to_string(peer.uid) + " pid " + std::to_string(peer.pid) +
         (peer.executable.empty() ? "" : " (" + peer.executable + ")");
}

json::object peer_fields(const std::string& consumer, const Peer& peer) {
  return {{"consumer", consumer}, {"uid", peer.uid},  {"gid", peer.gid},
          {"pid", peer.pid},      {"exe", peer.executable}, {"via", "agent"}};
}

}  // namespace

AgentService::AgentService(const Config& config, Backend& backend, SigningLogWriter* log)
    : config_(config), backend_(backend), log_(log), ledger_(config.ledger, backend) {}

Identification AgentService::identify_peer(const Peer& peer) {
  try {
    return identify(*ledger_.state(), peer);
  } catch (const std::exception& e) {
    return {std::nullopt, std::string("the ledger cannot be read: ") + e.what()};
  }
}

Bytes AgentService::handle(const Request& request, Connection& connection) {
  const Peer& peer = connection.peer;
  try {
    if (std::holds_alternative<RequestIdentities>(request)) return identities(peer);
    if (const auto* sign_request = std::get_if<SignRequest>(&request)) return sign(*sign_request, connection);
    if (const auto* extension_request = std::get_if<ExtensionRequest>(&request)) {
      return extension(*extension_request, connection);
    }
    log(Level::info, "refused message type " + std::to_string(std::get<UnsupportedRequest>(request).type) +
                         " from " + who(peer) + ": not offered by brokerkey-agent");
  } catch (const std::exception& e) {
    log(Level::error, "request from " + who(peer) + " failed: " + e.what());
  }
  return failure_message();
}

Bytes AgentService::identities(const Peer& peer) {
  auto state = ledger_.state();
  if (!identify(*state, peer).consumer) return failure_message();
  std::vector<Identity> keys;
  const KeyRecord* current = state->current(now());
  if (current && ledger_.proven(*current)) keys.push_back({ssh_wire_blob(current->public_key), current->label});
  return identities_answer(keys);
}

Bytes AgentService::sign(const SignRequest& request, const Connection& connection) {
  const Peer& peer = connection.peer;
  auto state = ledger_.state();
  Identification id = identify(*state, peer);
  if (!id.consumer) {
    log(Level::warning, "refused a signature for " + who(peer) + ": " + id.refusal);
    return failure_message();
  }
  if (connection.login && connection.login != id.consumer) {
    // The ledger moved the peer to another consumer since it logged in: its login is void.
    log(Level::warning, "refused a signature for " + who(peer) + ": logged in as consumer " +
                            *connection.login + ", now consumer " + *id.consumer);
    return failure_message();
  }
  json::object entry = peer_fields(*id.consumer, peer);
  if (connection.login) entry["login"] = connection.login_with_pin ? "pin" : "peer";
  entry["message_sha256"] = hex_encode(sha256(request.data));

  const KeyRecord* key = state->current(now());
  bool names_current = key && ssh_wire_blob(key->public_key) == request.key_blob;
  if (!names_current) {
    // A key the ledger knows but that no longer signs is worth a record; any other is noise.
    for (const KeyRecord& known : state->keys) {
      if (ssh_wire_blob(known.public_key) == request.key_blob) {
        entry["fingerprint"] = known.fingerprint.hex();
        entry["label"] = known.label;
        record_refusal(std::move(entry), "the key is " + std::string(to_string(known.status_at(now()))) +
                                             ", not current");
        return failure_message();
      }
    }
    log(Level::info, "refused a signature for consumer " + *id.consumer + ": not the broker key");
    return failure_message();
  }
  entry["fingerprint"] = key->fingerprint.hex();
  entry["label"] = key->label;
  entry["role"] = "current";

  Classified what = classify(request.data, request.key_blob);
  entry["purpose"] = to_string(what.purpose);
  if (what.purpose == Purpose::sshsig) entry["namespace"] = what.ssh_namespace;

  if (request.flags & ~(SSH_AGENT_RSA_SHA2_256 | SSH_AGENT_RSA_SHA2_512)) {
    record_refusal(std::move(entry), "unknown signature flags " + std::to_string(request.flags));
    return failure_message();
  }
  const ConsumerPolicy& policy = state->policies.at(*id.consumer);
  if (!policy.permits(what.purpose, what.ssh_namespace)) {
    record_refusal(std::move(entry), "purpose " + Grant{what.purpose, what.ssh_namespace}.text() + " not granted");
    return failure_message();
  }
  if (!rates_.take(*id.consumer, policy.rate)) {
    record_refusal(std::move(entry), "rate limit " + policy.rate.text() + " reached");
    return failure_message();
  }
  if (!ledger_.proven(*key)) {
    record_refusal(std::move(entry), "the backend does not hold the ledger's current key");
    return failure_message();
  }

  Signature signature{};
  try {
    signature = backend_.sign(key->fingerprint, request.data);
  } catch (const Error& e) {
    record_refusal(std::move(entry), std::string("backend: ") + rv_name(e.rv()));
    throw;
  }
  entry["result"] = "ok";
  if (log_) {
    try {
      log_->commit(std::move(entry));
    } catch (const std::exception& e) {
      // Fail closed: a signature without its durable record never leaves.
      log(Level::error, "signature withheld: the signing log " + log_->path().string() +
                            " cannot be written: " + e.what());
      return failure_message();
    }
  }
  return ed25519_sign_response(signature);
}

void AgentService::record_refusal(json::object entry, const std::string& reason) {
  std::string consumer = entry.contains("consumer") ? std::string(entry["consumer"].as_string()) : "";
  log(Level::warning, "refused a signature for consumer " + consumer + ": " + reason);
  if (!log_) return;
  entry["result"] = "refused: " + reason;
  try {
    log_->commit(std::move(entry));
  } catch (const std::exception& e) {
    log(Level::error, "signing log " + log_->path().string() + ": " + e.what());
  }
}

Bytes AgentService::extension(const ExtensionRequest& request, Connection& connection) {
  const Peer& peer = connection.peer;
  auto state = ledger_.state();
  Identification id = identify(*state, peer);
  if (!id.consumer) return failure_message();
  if (request.name == kQueryExtension) {
    if (!request.contents.empty()) return failure_message();
    WireWriter names;
    for (std::string_view name : {kQueryExtension, kViewExtension, kHealthExtension, kLoginExtension}) {
      names.string(name);
    }
    return extension_response(request.name, names.bytes());
  }
  if (request.name == kLoginExtension) return login(request, connection, *id.consumer);
  if (request.name == kViewExtension) {
    // Contents: nothing, or the tag of the view the client holds (one string).
    std::string known_tag;
    try {
      WireReader in(request.contents);
      if (!in.empty()) {
        known_tag = in.text();
        in.expect_end("view@brokerkey.org");
      }
    } catch (const MalformedMessage&) {
      return extension_failure_message();
    }
    if (known_tag.size() > 64) return extension_failure_message();
    WireWriter body;
    body.string(std::string_view(view_answer(state, known_tag)));
    return extension_response(request.name, body.bytes());
  }
  if (request.name == kHealthExtension) {
    if (!request.contents.empty()) return extension_failure_message();
    WireWriter body;
    body.string(std::string_view(health_json(peer)));
    return extension_response(request.name, body.bytes());
  }
  // Unknown extensions (OpenSSH's session-bind@openssh.com among them): RFC 9987 section 3.8.
  return failure_message();
}

std::string AgentService::view_answer(const std::shared_ptr<const LedgerState>& state, std::string_view known_tag) {
  TimePoint at = now();
  std::optional<Fingerprint> current, overlap;
  if (const KeyRecord* key = state->current(at); key && ledger_.proven(*key)) current = key->fingerprint;
  if (const KeyRecord* key = state->overlap(at)) overlap = key->fingerprint;
  std::lock_guard lock(view_mutex_);
  if (!view_cache_ || view_cache_->state != state || view_cache_->current != current ||
      view_cache_->overlap != overlap) {
    BrokerView view;
    // Who may sign, and how, is each consumer's own business: the view leaves it out.
    view.ledger.initialized = state->initialized;
    view.ledger.token_label = config_.token_label;
    view.ledger.keys = state->keys;
    view.ledger.records = state->records;
    view.ledger.head_hash = state->head_hash;
    view.current = current;
    view.overlap = overlap;
    view_cache_ = ViewCache{state, current, overlap, broker_view_text(view)};
  }
  if (!known_tag.empty() && known_tag == view_cache_->text.tag) return "";
  return broker_view_json(view_cache_->text, at);
}

Bytes AgentService::login(const ExtensionRequest& request, Connection& connection, const std::string& consumer) {
  std::optional<Secret> pin;
  try {
    WireReader in(request.contents);
    if (!in.empty()) {
      pin.emplace(std::string(in.text()));
      in.expect_end("login@brokerkey.org");
    }
  } catch (const MalformedMessage&) {
    return failure_message();
  }
  auto refuse = [&](const std::string& why) {
    log(Level::warning, "login refused for " + who(connection.peer) + " (consumer " + consumer + "): " + why);
    return extension_failure_message();
  };
  if (connection.login) return refuse("already logged in as consumer " + *connection.login);
  if (pin) {
    // "NAME:SECRET", checked against the configuration as it is now (consumer add and remove
    // rewrite it), as the module checks it in embedded mode.
    std::string_view text = pin->view();
    std::size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.substr(0, colon) != consumer) {
      return refuse("the PIN is not consumer " + consumer + "'s");
    }
    Config current = load_config(config_.file);
    const ConsumerEntry* entry = current.find_consumer(consumer);
    if (!entry || !pin_matches(*entry, text)) return refuse("wrong PIN");
  }
  connection.login = consumer;
  connection.login_with_pin = pin.has_value();
  WireWriter body;
  body.string(std::string_view(consumer));
  return extension_response(request.name, body.bytes());
}

std::string AgentService::health_json(const Peer& peer) {
  TimePoint at = now();
  json::array problems;
  json::object health{{"time", format_rfc3339(at)}};
  try {
    auto state = ledger_.state();
    health["ledger"] = json::object{{"records", state->records}, {"head", state->head_hash}};
    const KeyRecord* current = state->current(at);
    if (!current) {
      problems.push_back("no current key");
    } else {
      health["current"] = json::object{{"label", current->label},
                                       {"fingerprint", current->fingerprint.hex()},
                                       {"rotation_due", format_rfc3339(current->rotation_due)}};
      if (!ledger_.proven(*current)) problems.push_back("the backend does not hold the current key");
      if (current->rotation_due <= at) problems.push_back("rotation is overdue");
    }
    Identification id = identify(*state, peer);
    if (id.consumer) {
      const ConsumerPolicy& policy = state->policies.at(*id.consumer);
      json::array allow;
      for (const Grant& grant : policy.grants) allow.push_back(json::string(grant.text()));
      health["consumer"] = json::object{{"name", *id.consumer}, {"allow", std::move(allow)},
                                        {"rate", policy.rate.text()}};
    }
  } catch (const std::exception& e) {
    problems.push_back(json::string(std::string("ledger: ") + e.what()));
  }
  health["signing_log"] = log_ ? json::value(log_->path().string()) : json::value(nullptr);
  if (!log_) problems.push_back("signatures are not logged (no signing_log in the configuration)");
  health["status"] = problems.empty() ? "ok" : "degraded";
  health["problems"] = std::move(problems);
  return json::serialize(health);
}

}  // namespace brokerkey::agent
