// The keytool's commands. Each is thin: it parses, calls the core, and prints.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent_health.h"
#include "cli.h"
#include "core/agent_connection.h"
#include "core/config.h"
#include "core/ledger.h"

namespace brokerkey {

struct Command {
  std::string_view name;
  std::string_view summary;
  std::string_view usage;  // the whole --help text after the first line
  cli::Spec spec;
  int (*run)(const cli::Args& args);
};

extern const Command kInitCommand;
extern const Command kMintCommand;
extern const Command kStatusCommand;
extern const Command kPubkeyCommand;
extern const Command kFingerprintCommand;
extern const Command kConsumerCommand;
extern const Command kAuditCommand;
extern const Command kRotateCommand;
extern const Command kRetireCommand;
extern const Command kRevokeCommand;
extern const Command kAllowedSignersCommand;
extern const Command kCheckCommand;
extern const Command kHealthCommand;
extern const Command kGitConfigCommand;
extern const Command kCertCommand;
extern const Command kClientConfigCommand;
extern const Command kAgentConfigCommand;

// Where the broker's state comes from is decided here, in one place (broker.cpp), by the mode
// the located configuration states:
//   embedded  the configuration names the ledger, which this process reads (and the lifecycle
//             commands append to);
//   client    the configuration names brokerkey-agent's socket and nothing else: the state is
//             the agent's view@brokerkey.org answer (every key with its lifecycle times, and
//             which key each slot shows), and no broker file is read.
// The read commands (status, pubkey, fingerprint, allowed-signers, git-config, check) work from
// a BrokerState in either mode; the commands that change or audit the broker need its files.
struct BrokerState {
  Config config;
  LedgerState state;  // every key the ledger committed, with its lifecycle times
  TimePoint at;       // when the state was read
  // The slots: embedded, the ledger's current and overlap keys at `at`; client, the keys the
  // agent shows (current only while its backend proves it holds the key).
  std::optional<Fingerprint> current;
  std::optional<Fingerprint> overlap;

  bool client() const { return config.mode == ConfigMode::client; }
  // Where the state came from, for people: "brokerkey ledger PATH" or "brokerkey-agent at SOCKET".
  std::string origin() const;
  const KeyRecord* current_key() const { return current ? state.find(*current) : nullptr; }
  const KeyRecord* overlap_key() const { return overlap ? state.find(*overlap) : nullptr; }
};
// Throws if there is no config, the broker was never initialised, or (client) the agent cannot
// be asked.
BrokerState read_broker();

// The key in `role` ("current" or "overlap") now; throws naming what is missing.
const KeyRecord& key_in_role(const BrokerState& broker, std::string_view role);

// A client configuration's agent, connected (bounded timeouts).
AgentConnection connect_agent(const Config& config);

// brokerkey-agent's socket as --socket names it (client-config, agent-config): absolute (a
// configuration is used from any directory), at most 107 bytes (a unix socket address), no
// control character; lexically normal. UsageError naming the fault otherwise.
fs::path socket_option(const std::string& text);

// The agent's health@brokerkey.org answer to this account.
AgentHealth agent_health(const Config& config);

// The commands that change or audit the broker, with its files: only with an embedded
// configuration. The one place that refuses a client configuration, with one line saying why.
void require_embedded(const Config& config);
// The located configuration, embedded only.
Config load_embedded_config();

// What the lifecycle and admin commands start from: the embedded configuration and the ledger
// it names. Throws if there is no config, it is a client configuration, or the broker was
// never initialised.
struct Broker {
  Config config;
  Ledger ledger;
  LedgerState state;  // folded at load time
  BrokerState reading() const;
};
Broker load_broker();

}  // namespace brokerkey
