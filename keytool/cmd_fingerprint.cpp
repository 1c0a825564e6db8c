// brokerkey fingerprint [--check]: the validation hook. With --check it loads the deployed
// module, reads each key's public key and CKA_BROKERKEY_FINGERPRINT through it, re-derives
// SHA-256 from the public key, and accepts only when all of them agree with the ledger. With a
// client configuration the deployed binding is brokerkey-agent: the key it lists
// (REQUEST_IDENTITIES), re-derived, must be the current key of its view of the ledger. Either
// way --expect names the fingerprint recorded at mint time, which the current key must have.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "core/backend_module.h"
#include "core/error.h"
#include "git_agent.h"
#include "module_client.h"

namespace brokerkey {

namespace {

std::string text(const std::optional<std::vector<unsigned char>>& value) {
  return value ? std::string(value->begin(), value->end()) : std::string("(missing)");
}

// Checks the one public key the module shows in `slot` against the ledger's key; returns the
// problems found (empty when it agrees).
std::vector<std::string> check_slot(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, const KeyRecord& key) {
  std::vector<std::string> problems;
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  check_backend(fn->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &session), "C_OpenSession", kModule);
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  auto objects = find_objects(fn, session, {{CKA_CLASS, &public_class, sizeof public_class}});
  if (objects.size() != 1) {
    problems.push_back("the module shows " + std::to_string(objects.size()) + " public keys, expected 1");
  } else {
    auto point = read_attribute(fn, session, objects[0], CKA_EC_POINT);
    auto attribute = read_attribute(fn, session, objects[0], CKA_BROKERKEY_FINGERPRINT);
    auto id = read_attribute(fn, session, objects[0], CKA_ID);
    std::string derived = "(no CKA_EC_POINT)";
    if (point) derived = fingerprint_of(public_key_from_ec_point(*point)).hex();
    std::string expected = key.fingerprint.hex();
    if (derived != expected) problems.push_back("SHA-256 of the public key is " + derived);
    if (text(attribute) != expected) problems.push_back("CKA_BROKERKEY_FINGERPRINT is " + text(attribute));
    if (!id || hex_encode(*id) != expected) problems.push_back("CKA_ID is " + (id ? hex_encode(*id) : "(missing)"));
  }
  fn->C_CloseSession(session);
  return problems;
}

// The mint-time fingerprint the caller gives, which the current key must have.
std::optional<Fingerprint> expected_fingerprint(const cli::Args& args) {
  auto text = args.value("expect");
  if (!text) return std::nullopt;
  if (!args.flag("check")) throw cli::UsageError("--expect goes with --check");
  try {
    return Fingerprint::from_hex(*text);
  } catch (const Error&) {
    throw cli::UsageError("--expect takes a fingerprint: 64 hex characters, as 'brokerkey fingerprint' prints it");
  }
}

// Why the current key is not the one --expect names, with what the expected fingerprint is
// instead if `source` (the ledger, or the agent's view of it) knows it; nullopt when it is the
// current key's or no --expect was given.
std::optional<std::string> expectation_failure(const BrokerState& broker, const KeyRecord& current,
                                               const std::optional<Fingerprint>& expected, std::string_view source) {
  if (!expected || *expected == current.fingerprint) return std::nullopt;
  std::string line = std::string("the current key has fingerprint ") + current.fingerprint.hex() + ", not the expected " +
                     expected->hex() + ": ";
  const KeyRecord* known = broker.state.find(*expected);
  if (!known) {
    line.append(source).append(" has no key with that fingerprint");
  } else if (broker.overlap && *broker.overlap == *expected) {
    line.append("that is the overlap key, rotated out (it verifies, it signs no more): the broker was rotated "
                "after that fingerprint was recorded");
  } else {
    line.append("that is a ").append(to_string(known->status_at(broker.at))).append(" key of ").append(source);
  }
  return line;
}

// The key the agent lists, re-derived, against the current key of its view.
std::vector<std::string> check_agent(const BrokerState& broker, const KeyRecord& current) {
  AgentConnection agent = connect_agent(broker.config);
  std::vector<agent::Identity> identities = ask_identities(agent);
  if (identities.size() != 1) {
    return {"the agent lists " + std::to_string(identities.size()) + " keys, expected 1"};
  }
  std::optional<PublicKey> key = ed25519_from_ssh_blob(identities[0].key_blob);
  if (!key) return {"the agent lists a key that is not an Ed25519 public key"};
  std::string derived = fingerprint_of(*key).hex();
  if (derived != current.fingerprint.hex()) return {"SHA-256 of the key the agent lists is " + derived};
  return {};
}

// What --check found. A check passes or fails as a whole: when anything failed, only the
// failures are printed (on stderr), so a CI step's log reads as one failure and its reasons,
// never as "ok" lines mixed with them; the "ok" lines (stdout) are the report of a check that
// passed.
struct Outcome {
  std::vector<std::string> failures;  // one line each
  std::vector<std::string> checked;   // "ok  ROLE  LABEL  FINGERPRINT"

  // `source` is where the fingerprint the problems are measured against comes from.
  void slot(const KeyRecord& key, std::string_view role, const std::vector<std::string>& problems,
            std::string_view source) {
    for (const auto& problem : problems) {
      failures.push_back(std::string(role) + " key " + key.label + ": " + problem + ", " + std::string(source) +
                         " says " + key.fingerprint.hex());
    }
    if (problems.empty()) checked.push_back(std::string("ok  ") + std::string(role) + "  " + key.label + "  " + key.fingerprint.hex());
  }

  // Exit status 1 with the failures, else 0 with the ok lines and `summary`.
  int conclude(const std::string& summary) const {
    for (const auto& failure : failures) std::cerr << "brokerkey fingerprint: " << failure << "\n";
    if (!failures.empty()) return 1;
    for (const auto& line : checked) std::cout << line << "\n";
    std::cout << summary;
    return 0;
  }
};

int check_through_agent(const BrokerState& broker, const KeyRecord& current, const std::optional<Fingerprint>& expected) {
  constexpr std::string_view source = "the agent's view of the ledger";
  Outcome outcome;
  outcome.slot(current, "current", check_agent(broker, current), source);
  // The overlap key only verifies: the view proves its fingerprint is its public key's SHA-256.
  if (const KeyRecord* overlap = broker.overlap_key()) outcome.slot(*overlap, "overlap", {}, source);
  if (!outcome.failures.empty()) {
    outcome.failures.push_back(std::string("the deployed agent (") + broker.config.agent.socket.string() + ") does not match its ledger");
  }
  if (auto failure = expectation_failure(broker, current, expected, source)) outcome.failures.push_back(*failure);
  std::string summary = std::string("The agent at ") + broker.config.agent.socket.string() + " signs with the key its ledger names as current" +
                        (expected ? ", which has the expected fingerprint" : "") + ": the key it lists re-derives to " +
                        current.fingerprint.hex() + ".\n";
  if (!expected) summary += "Give --expect FINGERPRINT to compare it with the fingerprint recorded at mint time.\n";
  return outcome.conclude(summary);
}

int run_fingerprint(const cli::Args& args) {
  std::optional<Fingerprint> expected = expected_fingerprint(args);
  BrokerState broker = read_broker();
  if (!args.flag("check")) {
    if (args.value("module")) throw cli::UsageError("--module goes with --check");
    std::cout << key_in_role(broker, "current").fingerprint.hex() << "\n";
    return 0;
  }
  const KeyRecord* current = broker.current_key();
  if (!current) throw not_found("no current key in " + broker.origin() + ": nothing to check");
  if (broker.client()) {
    if (args.value("module")) throw cli::UsageError("--module has no meaning with a client configuration (the agent is checked)");
    return check_through_agent(broker, *current, expected);
  }
  fs::path path = module_path(args.value("module"));
  BackendModule module(path, {}, "brokerkey");
  Outcome outcome;
  for (auto [slot, key] : {std::pair{CK_SLOT_ID{0}, current}, {CK_SLOT_ID{1}, broker.overlap_key()}}) {
    if (!key) continue;
    std::string role = slot == 0 ? "current" : "overlap";
    CK_TOKEN_INFO info{};
    std::vector<std::string> problems;
    if (module.fn()->C_GetTokenInfo(slot, &info) != CKR_OK) {
      problems.push_back("the module shows no " + role + " token");
    } else {
      problems = check_slot(module.fn(), slot, *key);
    }
    outcome.slot(*key, role, problems, "the ledger");
  }
  if (!outcome.failures.empty()) {
    outcome.failures.push_back(std::string("the deployed module (") + path.string() + ") does not match the ledger");
  }
  if (auto failure = expectation_failure(broker, *current, expected, "the ledger")) outcome.failures.push_back(*failure);
  return outcome.conclude(std::string("The module at ") + path.string() + " matches the ledger: public key, " +
                          "CKA_BROKERKEY_FINGERPRINT, CKA_ID and re-derived SHA-256 agree" +
                          (expected ? ", and the current key has the expected fingerprint" : "") + ".\n");
}

}  // namespace

const Command kFingerprintCommand{
    "fingerprint",
    "print the current fingerprint, or --check it through the deployed module",
    "[--check [--expect FINGERPRINT] [--module PATH]]\n\n"
    "Without --check: the current key's fingerprint (SHA-256 of the raw public key, hex).\n"
    "With --check, the validation hook: loads the module (--module, $BROKERKEY_MODULE, the\n"
    "one beside this program, or the installed one), reads each key's CKA_EC_POINT, CKA_ID\n"
    "and CKA_BROKERKEY_FINGERPRINT through it, re-derives SHA-256 from the public key, and\n"
    "exits 0 only if all of them agree with the ledger's record for that key.\n"
    "With a client configuration the deployed binding is brokerkey-agent: the key it lists\n"
    "(as ssh-add -L sees it), re-derived, must be the current key of its view of the ledger.\n"
    "--expect FINGERPRINT: the current key must also have this fingerprint (the one recorded\n"
    "at mint time, as the ledger's mint or rotate record and 'brokerkey fingerprint' give it).\n\n"
    "The check passes or fails as a whole. Passed: exit 0, one 'ok  ROLE  LABEL  FINGERPRINT'\n"
    "line per key on stdout and what was compared. Failed: exit 1 and only the failures, one\n"
    "line each on stderr: each disagreement of the module (or agent) with the ledger, and for\n"
    "--expect what the expected fingerprint is instead (the overlap key after a rotation,\n"
    "another key of the ledger, or no key of it).\n",
    {{"module", "expect"}, {"check"}, 0, 0},
    run_fingerprint,
};

}  // namespace brokerkey
