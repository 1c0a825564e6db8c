// brokerkey rotate, retire and revoke: the key's life after minting. Each follows the order of
// effects: a new key is created in the backend before the record that commits it; a key is
// destroyed in the backend only after the record that decides it.
#include <boost/json.hpp>
#include <iostream>

#include "commands.h"
#include "core/error.h"
#include "core/pkcs11_backend.h"
#include "core/text.h"
#include "key_output.h"

namespace brokerkey {

namespace {

// "30d", "12h", "2w" or a plain number of days.
std::chrono::seconds parse_duration(const std::string& text) {
  std::size_t digits = text.find_first_not_of("0123456789");
  std::string number = text.substr(0, digits);
  std::string unit = digits == std::string::npos ? "d" : text.substr(digits);
  if (number.empty() || number.size() > 5 || (unit != "d" && unit != "h" && unit != "w")) {
    throw cli::UsageError("a duration is a number of days (30, 30d), hours (12h) or weeks (2w), not '" +
                          text + "'");
  }
  long n = std::stol(number);
  if (unit == "h") return std::chrono::hours(n);
  if (unit == "w") return Days(7 * n);
  return Days(n);
}

const KeyRecord& known_key(const Broker& broker, const std::string& fingerprint_text) {
  const KeyRecord* key = broker.state.find(Fingerprint::from_hex(fingerprint_text));
  if (!key) throw not_found("the ledger knows no key " + fingerprint_text);
  return *key;
}

// After the record: the key's private half goes. Failure here leaves a key the ledger has
// ended; 'brokerkey health' would report it and the record stands.
void destroy_after_record(Pkcs11Backend& backend, const KeyRecord& key, std::string_view what) {
  crash_point(std::string(what) + ":after-record");
  try {
    backend.destroy(key.fingerprint);
  } catch (const Error& e) {
    throw Error(e.rv(), "recorded, but destroying " + key.fingerprint.hex() +
                            " in the backend failed (" + e.what() + "); run the command again");
  }
}

int run_rotate(const cli::Args& args) {
  Broker broker = load_broker();
  // The configuration's rotation.overlap_days is the policy: --overlap may shorten the window
  // (down to an hour), never lengthen it.
  std::chrono::seconds policy = Days(broker.config.rotation.overlap_days);
  std::chrono::seconds overlap = args.value("overlap") ? parse_duration(*args.value("overlap")) : policy;
  if (args.value("overlap") && (overlap < std::chrono::hours(1) || overlap > policy)) {
    throw cli::UsageError("--overlap must be at least 1h and at most the configuration's rotation.overlap_days (" +
                          std::to_string(broker.config.rotation.overlap_days) + "d)");
  }
  TimePoint at = now();
  const KeyRecord from = key_in_role(broker.reading(), "current");  // a copy: the reading is a temporary
  if (const KeyRecord* open = broker.state.overlap(at)) {
    throw already_exists("key " + open->fingerprint.hex() + " is still in its overlap window until " +
                         format_rfc3339(*open->overlap_until) + "; retire it first: brokerkey retire " +
                         open->fingerprint.hex());
  }
  Pkcs11Backend backend(broker.config.backend);
  PublicKey public_key = backend.generate(from.label);
  crash_point("rotate:after-generate");
  Fingerprint to = fingerprint_of(public_key);
  try {
    broker.ledger.append("rotate", {{"from", from.fingerprint.hex()},
                                    {"to", to.hex()},
                                    {"label", from.label},
                                    {"fingerprint", to.hex()},
                                    {"public_key", base64_encode(public_key.raw)},
                                    {"overlap_until", format_rfc3339(at + overlap)},
                                    {"rotation_due", format_rfc3339(at + Days(broker.config.rotation.period_days))}});
  } catch (...) {
    backend.destroy(to);
    throw;
  }
  LedgerState state = broker.ledger.state();
  std::cout << "Rotated " << from.label << ": the new key signs from now on.\ncurrent key:\n";
  print_key(std::cout, *state.find(to), broker.config.token_label, "current");
  std::cout << "overlap key (verification only, until " << format_rfc3339(at + overlap) << "):\n";
  print_key(std::cout, *state.find(from.fingerprint), broker.config.token_label, "overlap");
  std::cout << "Publish the new allowed-signers file: brokerkey allowed-signers --principal P\n";
  if (from.certificate_der_base64) {
    // x509 signatures carry the signer's certificate, and the new key has none yet.
    std::cout << "x509 signing (git's x509 format) needs a certificate for the new key: brokerkey cert --pin-file FILE\n";
  }
  return 0;
}

int run_retire(const cli::Args& args) {
  Broker broker = load_broker();
  TimePoint at = now();
  std::vector<const KeyRecord*> keys;
  if (args.flag("expired")) {
    if (!args.positional().empty()) throw cli::UsageError("give a FINGERPRINT or --expired, not both");
    for (const auto& key : broker.state.keys) {
      if (key.status_at(at) == KeyStatus::superseded) keys.push_back(&key);
    }
    if (keys.empty()) {
      std::cout << "No key's overlap window has ended unretired: nothing to retire.\n";
      return 0;
    }
  } else {
    if (args.positional().size() != 1) throw cli::UsageError("give the FINGERPRINT of the key to retire, or --expired");
    keys.push_back(&known_key(broker, args.positional()[0]));
  }
  Pkcs11Backend backend(broker.config.backend);
  for (const KeyRecord* key : keys) {
    // Already retired (a retire that crashed after its record): only the destruction is owed.
    if (!key->retired_at) {
      broker.ledger.append("retire", {{"fingerprint", key->fingerprint.hex()}, {"label", key->label}});
    }
    destroy_after_record(backend, *key, "retire");
    std::cout << "Retired " << key->label << " " << key->fingerprint.hex()
              << ": its private key is destroyed; its public key stays in the ledger.\n";
  }
  return 0;
}

int run_revoke(const cli::Args& args) {
  Broker broker = load_broker();
  const KeyRecord& key = known_key(broker, args.positional()[0]);
  auto reason = args.value("reason");
  if (!reason || reason->empty()) throw cli::UsageError("--reason TEXT is required");
  // The rule fold_ledger applies to the record, checked here first for a clear message.
  if (auto fault = text_fault(*reason)) throw cli::UsageError("--reason " + *fault);
  boost::json::object fields{{"fingerprint", key.fingerprint.hex()}, {"label", key.label}, {"reason", *reason}};
  if (auto since = args.value("compromised-since")) {
    auto parsed = parse_rfc3339(*since);
    if (!parsed) throw cli::UsageError("--compromised-since takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    // A compromise is known when it is revoked, so it began no later than now; and the key
    // could not be compromised before it existed (for that, revoke without the option: the
    // key then verifies nothing). docs/SIGNING_KEY_ROTATION.md.
    if (*parsed > now()) throw cli::UsageError("--compromised-since " + *since + " is in the future");
    if (*parsed < key.created) {
      throw cli::UsageError("--compromised-since " + *since + " is before the key existed (" +
                            format_rfc3339(key.created) + "); to distrust everything it signed, leave it out");
    }
    fields["compromised_since"] = format_rfc3339(*parsed);
  }
  Pkcs11Backend backend(broker.config.backend);
  bool was_current = key.status_at(now()) == KeyStatus::current;
  // Already revoked (a revoke that crashed after its record): only the destruction is owed.
  if (!key.revoked_at) broker.ledger.append("revoke", fields);
  destroy_after_record(backend, key, "revoke");
  std::cout << "Revoked " << key.label << " " << key.fingerprint.hex()
            << ": it is gone from every slot and destroyed in the backend.\n";
  if (was_current) std::cout << "There is no current key now: run 'brokerkey mint' for a new one.\n";
  std::cout << "Publish the new allowed-signers file: brokerkey allowed-signers --principal P\n";
  return 0;
}

}  // namespace

const Command kRotateCommand{
    "rotate",
    "replace the current key; the old one stays verifiable in the overlap slot",
    "[--overlap DURATION]\n\n"
    "Generates the next key inside the backend under the same label, then commits it with a\n"
    "rotate record. From then on only the new key signs (slot 'current', same token and key\n"
    "label, so no client changes its URI); the old key's public key stays in slot 'overlap'\n"
    "for verification until the window ends (--overlap: 30d, 12h, 2w; default from the\n"
    "configuration's rotation.overlap_days). Refuses while a previous overlap window is open.\n",
    {{"overlap"}, {}, 0, 0},
    run_rotate,
};

const Command kRetireCommand{
    "retire",
    "end a rotated-out key: record it, then destroy its private key",
    "FINGERPRINT | --expired\n\n"
    "Records the retirement in the ledger, then destroys the key in the backend. Its public key\n"
    "stays in the ledger for ever, so old signatures keep verifying. --expired retires every\n"
    "key whose overlap window has ended. The current key cannot be retired (rotate first).\n",
    {{}, {"expired"}, 0, 1},
    run_retire,
};

const Command kRevokeCommand{
    "revoke",
    "emergency: withdraw a key at once and destroy it",
    "FINGERPRINT --reason TEXT [--compromised-since TIME]\n\n"
    "Records the revocation, then destroys the key in the backend. The key disappears from\n"
    "every slot at once; if it was current there is no current key until 'brokerkey mint'.\n"
    "allowed-signers then lets it verify nothing, or, with --compromised-since, only what it\n"
    "signed before TIME (YYYY-MM-DD or RFC 3339 UTC).\n",
    {{"reason", "compromised-since"}, {}, 1, 1},
    run_revoke,
};

}  // namespace brokerkey
