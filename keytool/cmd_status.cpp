// brokerkey status and brokerkey pubkey: what the ledger says, read-only (read_broker: the
// ledger itself, or brokerkey-agent's view of it with a client configuration).
#include <unistd.h>

#include <boost/json.hpp>
#include <iostream>

#include "commands.h"
#include "core/error.h"
#include "key_output.h"

namespace brokerkey {

namespace {

int run_status(const cli::Args& args) {
  BrokerState broker = read_broker();
  const KeyRecord* current = broker.current_key();
  const KeyRecord* overlap = broker.overlap_key();
  // A client is not told who else may sign: only the broker's own configuration lists consumers.
  std::optional<AgentHealth> health;
  if (broker.client()) health = agent_health(broker.config);
  if (args.flag("json")) {
    boost::json::array keys, consumers;
    for (const auto& key : broker.state.keys) keys.push_back(key_json(key, broker.config.token_label, broker.at));
    for (const auto& consumer : broker.config.consumers) consumers.push_back(boost::json::string(consumer.name));
    boost::json::object out{
        {"config", broker.config.file.string()},
        {"mode", to_string(broker.config.mode)},
        {"token_label", broker.config.token_label},
        {"ledger_records", broker.state.records},
        {"ledger_head", broker.state.head_hash},
        {"current", current ? boost::json::value(current->fingerprint.hex()) : nullptr},
        {"overlap", overlap ? boost::json::value(overlap->fingerprint.hex()) : nullptr},
        {"keys", std::move(keys)},
    };
    if (health) {
      out["agent"] = broker.config.agent.socket.string();
      out["consumer"] = health->consumer ? boost::json::value(*health->consumer) : nullptr;
    } else {
      out["ledger"] = broker.config.ledger.string();
      out["consumers"] = std::move(consumers);
    }
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  std::cout << "broker:    " << broker.config.file.string() << (health ? " (client configuration)" : "") << "\n"
            << "token:     " << broker.config.token_label << "\n";
  if (health) {
    std::cout << "agent:     " << broker.config.agent.socket.string() << " (its ledger: " << broker.state.records
              << " records, head " << broker.state.head_hash.substr(0, 16) << "...)\n";
  } else {
    std::cout << "ledger:    " << broker.config.ledger.string() << " (" << broker.state.records
              << " records, chain intact, head " << broker.state.head_hash.substr(0, 16) << "...)\n";
  }
  if (current) {
    std::cout << "current key:\n";
    print_key(std::cout, *current, broker.config.token_label, "current");
  } else {
    std::cout << "current key: none (" << (health ? "the agent shows none" : "run 'brokerkey mint'") << ")\n";
  }
  if (overlap) {
    std::cout << "overlap key:\n";
    print_key(std::cout, *overlap, broker.config.token_label, "overlap");
  }
  if (health) {
    std::cout << "consumer:  " << (health->consumer ? *health->consumer : std::string("none (this account)")) << "\n";
    return 0;
  }
  std::cout << "consumers: ";
  if (broker.config.consumers.empty()) std::cout << "none (add one with 'brokerkey consumer add NAME')";
  for (std::size_t i = 0; i < broker.config.consumers.size(); ++i) {
    std::cout << (i ? ", " : "") << broker.config.consumers[i].name;
  }
  std::cout << "\n";
  return 0;
}

int run_pubkey(const cli::Args& args) {
  BrokerState broker = read_broker();
  const KeyRecord& key = key_in_role(broker, args.value_or("role", "current"));
  std::string format = args.value_or("format", "ssh");
  if (format == "ssh") {
    std::cout << ssh_public_key_line(key.public_key, key.label) << "\n";
  } else if (format == "pem") {
    std::cout << spki_pem(key.public_key);
  } else if (format == "raw") {
    if (::isatty(STDOUT_FILENO)) throw invalid_input("--format raw writes 32 binary bytes; redirect stdout to a file");
    std::cout.write(reinterpret_cast<const char*>(key.public_key.raw.data()), key.public_key.raw.size());
  } else if (format == "fingerprint") {
    std::cout << key.fingerprint.hex() << "\n";
  } else {
    throw cli::UsageError("--format is ssh, pem, raw or fingerprint, not '" + format + "'");
  }
  return 0;
}

}  // namespace

const Command kStatusCommand{
    "status",
    "show the broker, its current and overlap keys, and its consumers",
    "[--json]\n\n"
    "Shows what the ledger says: the token, the current key and, during an overlap window,\n"
    "the previous one, each with its SHA-256 fingerprint of the raw public key and its\n"
    "OpenSSH SHA256: fingerprint (labelled: they hash different encodings), dates and URI.\n"
    "--json prints one JSON object with every key the ledger knows.\n"
    "With a client configuration it shows brokerkey-agent's view of the ledger instead, and\n"
    "the consumer the agent takes this account for (no broker file is read).\n",
    {{}, {"json"}, 0, 0},
    run_status,
};

const Command kPubkeyCommand{
    "pubkey",
    "export a public key (ssh, pem, raw or fingerprint)",
    "[--role current|overlap] [--format ssh|pem|raw|fingerprint]\n\n"
    "Writes the public key of the current (default) or overlap key to stdout:\n"
    "  ssh          an OpenSSH public key line (default)\n"
    "  pem          an X.509 SubjectPublicKeyInfo in PEM, for openssl pkeyutl -verify\n"
    "  raw          the 32 raw bytes (binary; stdout must not be a terminal)\n"
    "  fingerprint  64 hex characters: SHA-256 of the raw public key\n",
    {{"role", "format"}, {}, 0, 0},
    run_pubkey,
};

}  // namespace brokerkey
