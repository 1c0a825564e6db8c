// brokerkey mint: the first key, generated inside the backend, committed by a mint record.
#include <boost/json.hpp>
#include <iostream>

#include "commands.h"
#include "core/error.h"
#include "core/pkcs11_backend.h"
#include "core/uri.h"
#include "key_output.h"

namespace brokerkey {

namespace {

int run_mint(const cli::Args& args) {
  Broker broker = load_broker();
  TimePoint at = now();
  if (const KeyRecord* current = broker.state.current(at)) {
    throw already_exists("key " + current->label + " (" + current->fingerprint.hex() +
                         ") is current; a new key comes only by 'brokerkey rotate'");
  }
  KeyName name{args.value_or("service", broker.config.naming.service),
               args.value_or("purpose", broker.config.naming.purpose),
               args.value_or("env", broker.config.naming.env)};
  for (auto [part, value] : {std::pair{"service", name.service}, {"purpose", name.purpose}, {"env", name.env}}) {
    if (value.empty()) {
      throw cli::UsageError(std::string("no ") + part + " given: pass --" + part +
                            " or set naming." + part + " in the configuration");
    }
  }
  std::string label = make_key_label(name);

  // Order of effects: create in the backend first, then commit with the ledger record. A
  // crash in between leaves an uncommitted key, which 'brokerkey health' reports.
  Pkcs11Backend backend(broker.config.backend);
  PublicKey public_key = backend.generate(label);
  crash_point("mint:after-generate");
  Fingerprint fingerprint = fingerprint_of(public_key);
  try {
    broker.ledger.append("mint", {{"label", label},
                                  {"fingerprint", fingerprint.hex()},
                                  {"public_key", base64_encode(public_key.raw)},
                                  {"rotation_due", format_rfc3339(at + Days(broker.config.rotation.period_days))}});
  } catch (...) {
    backend.destroy(fingerprint);  // nothing committed it: take it away again
    throw;
  }
  LedgerState state = broker.ledger.state();
  std::cout << "Minted " << label << " inside the backend.\n";
  print_key(std::cout, *state.find(fingerprint), broker.config.token_label, "current");
  return 0;
}

}  // namespace

const Command kMintCommand{
    "mint",
    "generate the broker key inside the backend (when there is no current key)",
    "[--service S --purpose P --env E]\n\n"
    "Generates a non-extractable Ed25519 key pair inside the backend, labelled\n"
    "<service>-<purpose>-ed25519-<env> (defaults from the configuration's naming), and commits\n"
    "it with a mint record in the ledger. Prints the label, both fingerprints and the key's\n"
    "PKCS#11 URI. Refuses when a current key exists: use 'brokerkey rotate' for the next key.\n",
    {{"service", "purpose", "env"}, {}, 0, 0},
    run_mint,
};

}  // namespace brokerkey
