// brokerkey check and brokerkey health: do the ledger, the backend and the configuration
// agree, and is a rotation due? One assessment serves both; health --repair acts on it.
#include <boost/json.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "commands.h"
#include "core/error.h"
#include "core/pkcs11_backend.h"

namespace brokerkey {

namespace {

enum class Severity { warning = 1, inconsistency = 2 };

struct Finding {
  Severity severity;
  std::string what;
  std::string fix;  // the command that deals with it
  std::optional<Fingerprint> leftover;  // a backend key --repair may destroy
  Bytes leftover_id;
  std::optional<fs::path> damaged_log;  // a chained log whose damaged tail --repair moves aside
};

struct Assessment {
  std::vector<Finding> findings;
  int exit_code() const {
    int code = 0;
    for (const auto& f : findings) code = std::max(code, static_cast<int>(f.severity));
    return code;
  }
};

// What the keys' lifecycle calls for: the same in either mode. `current` is the key the
// broker signs with now (embedded: the ledger's; client: the one the agent shows).
void assess_keys(const LedgerState& state, const KeyRecord* current, TimePoint at, int warn_days, Assessment& result) {
  auto add = [&](Severity s, std::string what, std::string fix) {
    result.findings.push_back({s, std::move(what), std::move(fix), std::nullopt, {}, std::nullopt});
  };
  const KeyRecord* committed = state.current(at);
  if (!current && committed) {
    add(Severity::inconsistency, "the ledger's current key " + committed->fingerprint.hex() +
                                     " is not shown: the agent's backend does not prove it holds it",
        "the broker's operator: brokerkey health, on the broker host");
  } else if (!current) {
    add(Severity::warning, "no current key", "brokerkey mint");
  } else if (current->rotation_due <= at) {
    add(Severity::warning, "rotation overdue since " + format_rfc3339(current->rotation_due), "brokerkey rotate");
  } else if (current->rotation_due <= at + Days(warn_days)) {
    add(Severity::warning, "rotation due " + format_rfc3339(current->rotation_due), "brokerkey rotate");
  }
  // x509 signatures carry the key's certificate: once one was issued, a rotation that left the
  // new key without one stops brokerkey-gpgsm.
  bool certified_before = std::any_of(state.keys.begin(), state.keys.end(),
                                      [](const KeyRecord& key) { return key.certificate_der_base64.has_value(); });
  if (current && !current->certificate_der_base64 && certified_before) {
    add(Severity::warning, "the current key has no certificate, though an earlier key had one: x509 signing fails",
        "brokerkey cert --pin-file FILE");
  }
  for (const auto& key : state.keys) {
    if (key.status_at(at) == KeyStatus::superseded) {
      add(Severity::warning, "overlap window of " + key.fingerprint.hex() + " ended " +
                                 format_rfc3339(*key.overlap_until) + " without retirement",
          "brokerkey retire --expired");
    }
  }
}

Assessment assess(const Config& config, Backend* backend, int warn_days) {
  Assessment result;
  auto add = [&](Severity s, std::string what, std::string fix) {
    result.findings.push_back({s, std::move(what), std::move(fix), std::nullopt, {}, std::nullopt});
  };
  // A damaged tail (a last line that is not an intact record) stops every append: --repair
  // moves it aside; damage with intact records after it is not repaired.
  auto check_log = [&](const char* what, const fs::path& path, const std::vector<std::string>& lines) {
    auto fault = verify_chain(lines);
    if (!fault) return true;
    bool tail = damage_is_at_tail(lines, *fault);
    result.findings.push_back(
        {Severity::inconsistency,
         std::string(what) + " " + path.string() + ": record at line " + std::to_string(fault->line) + " " +
             fault->problem + (tail ? " (a damaged tail: appends fail until it is moved aside)" : ""),
         tail ? "brokerkey health --repair (moves lines " + std::to_string(fault->line) + "-" +
                    std::to_string(lines.size()) + " to a file beside the log)"
              : "brokerkey audit verify; restore the file from a copy",
         std::nullopt, {}, tail ? std::optional<fs::path>(path) : std::nullopt});
    return false;
  };
  if (!config.signing_log.empty()) {
    check_log("signing log", config.signing_log, ChainedLog(config.signing_log).read_lines());
  }
  Ledger ledger(config.ledger);
  std::vector<std::string> lines = ledger.lines();
  if (!check_log("ledger", config.ledger, lines)) return result;
  LedgerState state = fold_ledger(lines);
  TimePoint at = now();
  assess_keys(state, state.current(at), at, warn_days, result);

  std::set<std::string> configured;
  for (const auto& consumer : config.consumers) configured.insert(consumer.name);
  if (configured != state.consumers) {
    add(Severity::inconsistency, "the configuration's consumers differ from the ledger's",
        "compare 'brokerkey consumer list' with 'brokerkey audit list --event consumer_add'");
  }

  if (!backend) return result;
  std::map<Bytes, BackendKey> held;
  for (auto& key : backend->list_keys()) held[key.id] = std::move(key);
  for (const auto& key : state.keys) {
    Bytes id(key.fingerprint.bytes.begin(), key.fingerprint.bytes.end());
    auto found = held.find(id);
    KeyStatus status = key.status_at(at);
    bool needed = status == KeyStatus::current || status == KeyStatus::overlap;
    if (needed && (found == held.end() || !found->second.public_key ||
                   *found->second.public_key != key.public_key ||
                   (status == KeyStatus::current && !found->second.has_private_key))) {
      add(Severity::inconsistency, std::string(to_string(status)) + " key " + key.fingerprint.hex() +
                                       " is missing from the backend or does not match the ledger",
          "restore the backend token from its backup; the module does not show this key");
    }
    if ((status == KeyStatus::retired || status == KeyStatus::revoked) && found != held.end()) {
      result.findings.push_back({Severity::inconsistency,
                                 std::string(to_string(status)) + " key " + key.fingerprint.hex() +
                                     " is still in the backend (an interrupted " +
                                     (status == KeyStatus::retired ? "retire" : "revoke") + ")",
                                 "brokerkey health --repair", key.fingerprint, id, std::nullopt});
    }
    if (found != held.end()) held.erase(found);
  }
  for (const auto& [id, key] : held) {
    result.findings.push_back({Severity::inconsistency,
                               "backend key '" + key.label + "' (id " + hex_encode(id) +
                                   ") is named by no ledger record (an interrupted mint or rotate)",
                               "brokerkey health --repair", std::nullopt, id, std::nullopt});
  }
  return result;
}

void print(const Assessment& result, bool json,
           std::string_view healthy = "healthy: ledger, backend and configuration agree") {
  if (json) {
    boost::json::array findings;
    for (const auto& f : result.findings) {
      findings.push_back({{"severity", f.severity == Severity::warning ? "warning" : "inconsistency"},
                          {"what", f.what},
                          {"fix", f.fix}});
    }
    std::cout << boost::json::serialize(boost::json::object{{"status", result.exit_code()},
                                                            {"findings", std::move(findings)}})
              << "\n";
    return;
  }
  if (result.findings.empty()) std::cout << healthy << "\n";
  for (const auto& f : result.findings) {
    std::cout << (f.severity == Severity::warning ? "warning: " : "inconsistent: ") << f.what
              << "\n    run: " << f.fix << "\n";
  }
}

int warn_days(const cli::Args& args) { return static_cast<int>(args.count("warn-days").value_or(30)); }

// With a client configuration: the agent's view of the ledger, by the same rules, and the
// agent's own health answer (a degraded agent is never healthy).
Assessment assess_agent(int warn_days) {
  BrokerState broker = read_broker();
  Assessment result;
  assess_keys(broker.state, broker.current_key(), broker.at, warn_days, result);
  AgentHealth health = agent_health(broker.config);
  for (const auto& problem : health.problems) {
    result.findings.push_back({Severity::warning, "brokerkey-agent at " + broker.config.agent.socket.string() +
                                                      " reports: " + problem,
                               "the broker's operator: brokerkey health, on the broker host", std::nullopt, {},
                               std::nullopt});
  }
  return result;
}

constexpr std::string_view kAgentHealthy = "healthy: brokerkey-agent reports ok and shows the ledger's current key";

bool client_mode() { return load_config(locate_config()).mode == ConfigMode::client; }

int run_check(const cli::Args& args) {
  if (client_mode()) {
    // An agent that cannot be asked is an outage, not a warning: exit 2, with one line.
    Assessment result;
    try {
      result = assess_agent(warn_days(args));
    } catch (const Error& e) {
      if (e.rv() != CKR_DEVICE_REMOVED) throw;
      std::cerr << "brokerkey check: " << e.what() << "\n";
      return static_cast<int>(Severity::inconsistency);
    }
    print(result, args.flag("json"), kAgentHealthy);
    return result.exit_code();
  }
  Config config = load_config(locate_config());
  Pkcs11Backend backend(config.backend);
  Assessment result = assess(config, &backend, warn_days(args));
  print(result, args.flag("json"));
  return result.exit_code();
}

int run_health(const cli::Args& args) {
  if (!args.flag("repair") && client_mode()) {
    Assessment result = assess_agent(warn_days(args));
    print(result, false, kAgentHealthy);
    return result.exit_code();
  }
  Config config = load_embedded_config();
  Pkcs11Backend backend(config.backend);
  Assessment result = assess(config, &backend, warn_days(args));
  print(result, false);
  if (!args.flag("repair")) return result.exit_code();
  // Repair destroys only keys the ledger has ended or never named; assess() never marks a
  // current, overlap or superseded key as a leftover.
  int repaired = 0;
  for (const auto& f : result.findings) {
    if (f.damaged_log) {
      if (auto repair = ChainedLog(*f.damaged_log).repair_tail()) {
        std::cout << "repaired: moved lines " << repair->first_line << "-" << repair->last_line << " of "
                  << f.damaged_log->string() << " to " << repair->moved_to.string() << "\n";
      }
    }
  }
  Assessment before_keys = assess(config, &backend, warn_days(args));
  for (const auto& f : before_keys.findings) {
    if (f.leftover_id.empty()) continue;
    if (f.leftover) {
      backend.destroy(*f.leftover);
    } else {
      backend.destroy_by_id(f.leftover_id);
    }
    ++repaired;
    std::cout << "repaired: destroyed backend key " << hex_encode(f.leftover_id) << "\n";
  }
  Assessment after = assess(config, &backend, warn_days(args));
  std::cout << "after repair (" << repaired << " keys destroyed):\n";
  print(after, false);
  return after.exit_code();
}

}  // namespace

const Command kCheckCommand{
    "check",
    "for cron and monitoring: exit 0 healthy, 1 attention soon, 2 inconsistent",
    "[--warn-days N] [--json]\n\n"
    "Exit 0: healthy. Exit 1: the rotation is due within N days (default 30) or overdue, an\n"
    "overlap window ended without retirement, or there is no current key. Exit 2: the ledger,\n"
    "the backend and the configuration disagree (broken chain, missing key, leftover keys).\n"
    "Each finding says what to run. The systemd timer brokerkey-check.timer runs it daily.\n"
    "With a client configuration: brokerkey-agent's view of the ledger by the same rules, and\n"
    "the agent's own health (exit 1 at least when it reports itself degraded; 2 when it does\n"
    "not show the ledger's current key or cannot be reached). No broker file is read.\n",
    {{"warn-days"}, {"json"}, 0, 0},
    run_check,
};

const Command kHealthCommand{
    "health",
    "what check found, in full; --repair cleans what a crash left",
    "[--warn-days N] [--repair]\n\n"
    "Lists every finding of 'brokerkey check'. --repair moves a damaged tail of the ledger or\n"
    "the signing log (a last line that is not an intact record) into LOG.damaged-TIME-PID\n"
    "beside it, keeping every good record; completes interrupted retirements and revocations\n"
    "and removes backend keys that no ledger record committed (an interrupted mint or rotate).\n"
    "It never destroys a key the ledger names as current, overlap or superseded.\n"
    "With a client configuration it lists what 'brokerkey check' finds through the agent;\n"
    "--repair runs on the broker host only.\n",
    {{"warn-days"}, {"repair"}, 0, 0},
    run_health,
};

}  // namespace brokerkey
