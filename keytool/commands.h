// The keytool's commands. Each is thin: it parses, calls the core, and prints.
#pragma once

#include <string_view>

#include "cli.h"
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

// What most commands start from: the located config and the ledger it names.
struct Broker {
  Config config;
  Ledger ledger;
  LedgerState state;  // folded at load time
};
// Throws if there is no config or the broker was never initialised.
Broker load_broker();

// The key in `role` ("current" or "overlap") now; throws naming what is missing.
const KeyRecord& key_in_role(const Broker& broker, std::string_view role);

}  // namespace brokerkey
