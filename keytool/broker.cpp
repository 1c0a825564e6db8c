// Where the broker's state comes from (commands.h): the ledger, or brokerkey-agent's view.
#include "commands.h"
#include "git_agent.h"
#include "core/broker_view.h"
#include "core/error.h"
#include "core/text.h"

namespace brokerkey {

namespace {

// The keytool asks and exits: a few seconds are plenty for an agent that answers at all.
constexpr std::chrono::seconds kAgentTimeout{10};

BrokerState from_ledger(Config config, LedgerState state) {
  if (!state.initialized) {
    throw config_bad("ledger " + config.ledger.string() + " is empty: the broker was never initialised");
  }
  BrokerState out{std::move(config), std::move(state), now(), std::nullopt, std::nullopt};
  if (const KeyRecord* key = out.state.current(out.at)) out.current = key->fingerprint;
  if (const KeyRecord* key = out.state.overlap(out.at)) out.overlap = key->fingerprint;
  return out;
}

BrokerState from_agent(Config config) {
  AgentConnection agent = connect_agent(config);
  BrokerView view = ask_view(agent);
  if (!view.ledger.initialized) {
    throw config_bad("brokerkey-agent at " + config.agent.socket.string() +
                     " serves a broker that was never initialised (no key in its ledger)");
  }
  // The token label the agent's broker presents is the one its clients name in their URIs.
  config.token_label = view.ledger.token_label;
  return BrokerState{std::move(config), std::move(view.ledger), now(), view.current, view.overlap};
}

}  // namespace

std::string BrokerState::origin() const {
  return client() ? "brokerkey-agent at " + config.agent.socket.string() : "brokerkey ledger " + config.ledger.string();
}

AgentConnection connect_agent(const Config& config) {
  if (config.mode != ConfigMode::client) throw config_bad(config.file.string() + " is not a client configuration");
  return AgentConnection(config.agent.socket, kAgentTimeout);
}

BrokerState read_broker() {
  Config config = load_config(locate_config());
  if (config.mode == ConfigMode::client) return from_agent(std::move(config));
  LedgerState state = Ledger(config.ledger).state();
  return from_ledger(std::move(config), std::move(state));
}

const KeyRecord& key_in_role(const BrokerState& broker, std::string_view role) {
  const KeyRecord* key = nullptr;
  if (role == "current") {
    key = broker.current_key();
  } else if (role == "overlap") {
    key = broker.overlap_key();
  } else {
    throw cli::UsageError("--role is current or overlap, not '" + std::string(role) + "'");
  }
  if (!key) {
    if (role == "overlap") throw not_found("no overlap key: no rotation is in its overlap window");
    if (broker.client() && broker.state.current(broker.at)) {
      throw not_found("brokerkey-agent at " + broker.config.agent.socket.string() +
                      " shows no current key: its backend does not prove it holds the ledger's current key");
    }
    throw not_found("no current key: run 'brokerkey mint'");
  }
  return *key;
}

AgentHealth agent_health(const Config& config) {
  AgentConnection agent = connect_agent(config);
  return parse_agent_health(ask_agent(agent, agent::kHealthExtension));
}

void require_embedded(const Config& config) {
  if (config.mode != ConfigMode::client) return;
  throw config_bad(config.file.string() + " is a client configuration (it names only brokerkey-agent at " +
                   config.agent.socket.string() +
                   "): this command changes or audits the broker and runs on the broker host with the broker's "
                   "own configuration");
}

Config load_embedded_config() {
  Config config = load_config(locate_config());
  require_embedded(config);
  return config;
}

BrokerState Broker::reading() const { return from_ledger(config, state); }

Broker load_broker() {
  Config config = load_embedded_config();
  Ledger ledger(config.ledger);
  LedgerState state = ledger.state();
  if (!state.initialized) {
    throw config_bad("ledger " + config.ledger.string() + " is empty: the broker was never initialised");
  }
  return Broker{std::move(config), std::move(ledger), std::move(state)};
}

}  // namespace brokerkey
