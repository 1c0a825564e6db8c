// brokerkey fingerprint [--check]: the validation hook. With --check it loads the deployed
// module, reads each key's public key and CKA_BROKERKEY_FINGERPRINT through it, re-derives
// SHA-256 from the public key, and accepts only when all of them agree with the ledger.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "core/backend_module.h"
#include "core/error.h"
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

int run_fingerprint(const cli::Args& args) {
  Broker broker = load_broker();
  if (!args.flag("check")) {
    std::cout << key_in_role(broker, "current").fingerprint.hex() << "\n";
    return 0;
  }
  TimePoint at = now();
  const KeyRecord* current = broker.state.current(at);
  if (!current) throw not_found("no current key in the ledger: nothing to check");
  fs::path path = module_path(args.value("module"));
  BackendModule module(path, {}, "brokerkey");
  bool all_agree = true;
  for (auto [slot, key] : {std::pair{CK_SLOT_ID{0}, current}, {CK_SLOT_ID{1}, broker.state.overlap(at)}}) {
    if (!key) continue;
    std::string role = slot == 0 ? "current" : "overlap";
    CK_TOKEN_INFO info{};
    std::vector<std::string> problems;
    if (module.fn()->C_GetTokenInfo(slot, &info) != CKR_OK) {
      problems.push_back("the module shows no " + role + " token");
    } else {
      problems = check_slot(module.fn(), slot, *key);
    }
    for (const auto& problem : problems) {
      std::cerr << "brokerkey fingerprint: " << role << " key " << key->label << ": " << problem
                << ", ledger says " << key->fingerprint.hex() << "\n";
    }
    if (problems.empty()) {
      std::cout << "ok  " << role << "  " << key->label << "  " << key->fingerprint.hex() << "\n";
    }
    all_agree = all_agree && problems.empty();
  }
  if (!all_agree) {
    std::cerr << "brokerkey fingerprint: the deployed module (" << path.string()
              << ") does not match the ledger\n";
    return 1;
  }
  std::cout << "The module at " << path.string() << " matches the ledger: public key, "
            << "CKA_BROKERKEY_FINGERPRINT, CKA_ID and re-derived SHA-256 agree.\n";
  return 0;
}

}  // namespace

const Command kFingerprintCommand{
    "fingerprint",
    "print the current fingerprint, or --check it through the deployed module",
    "[--check [--module PATH]]\n\n"
    "Without --check: the current key's fingerprint (SHA-256 of the raw public key, hex).\n"
    "With --check, the validation hook: loads the module (--module, $BROKERKEY_MODULE, the\n"
    "one beside this program, or the installed one), reads each key's CKA_EC_POINT, CKA_ID\n"
    "and CKA_BROKERKEY_FINGERPRINT through it, re-derives SHA-256 from the public key, and\n"
    "exits 0 only if all of them agree with the ledger's record for that key.\n",
    {{"module"}, {"check"}, 0, 0},
    run_fingerprint,
};

}  // namespace brokerkey
